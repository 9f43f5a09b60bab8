/**
 * The executor's own rules: whatever a batch says, each action is checked here against the server
 * as read under the cluster's lock, before any statement. The planner applies the same rules; the
 * executor does not trust it, since people invoke the executor directly through SSM.
 *
 *   action                      | allowed when
 *   ----------------------------+----------------------------------------------------------------
 *   any                         | its fields are well-formed for the engine, the account is not
 *                               | protected, every role it names is owned or made by this batch,
 *                               | every role it grants or revokes is one the executor's own account
 *                               | may grant (roles.ts: the ADMIN OPTION, MySQL's ROLE_ADMIN, or on
 *                               | MariaDB made by this batch)
 *   create_user / create_role   | the account does not exist; or it exists, the action says adopt,
 *                               | it is not another cluster's, and the global privileges it holds
 *                               | pass the privilege policy; the grants it adds pass the policy; an
 *                               | existing owned user keeps the secret on record; no other owned
 *                               | account holds the secret (unless this batch deletes it)
 *   update_grant                | the account is owned and of that kind; the grants it adds pass
 *   reset_password              | the account is an owned user, the secret is the one on record
 *   delete_user / drop_role     | owned (a user may be gone already: a claim left by a crash)
 */
import type { Dialect } from '../dialect/index.js';
import { diffGrants } from '../model/grants.js';
import { refusedGrants } from '../model/privilege-policy.js';
import { isMasterSecret } from '../model/names.js';
import { isBuiltInProtected, isProtected } from '../model/protected.js';
import { roleGrantor, rolesOutOfReach, touchedRoles } from '../model/roles.js';
import {
  accountKey,
  displayAccount,
  newAccount,
  ownerOf,
  type Action,
  type ActualAccount,
  type ActualState,
  type ClusterSpec,
  type CreateRoleAction,
  type CreateUserAction,
  type Grant,
  type OwnershipRecord,
  type UpdateGrantAction,
} from '../model/types.js';
import { actionProblems } from './validate.js';

/** Why each action may not run (undefined: it may), in batch order. */
export function refusals(
  actions: readonly Action[],
  target: ClusterSpec,
  dialect: Dialect,
  actual: ActualState,
): (string | undefined)[] {
  const guard = new Guard(target, dialect, actual, actions);
  return actions.map((a) => guard.check(a));
}

const notManaged = (a: Action) => `${displayAccount(a)} is not an account dbusers manages on this cluster`;

/** The server as read under the lock, kept as the batch's earlier actions will leave it. */
class Guard {
  private readonly accounts: Map<string, ActualAccount>;
  private readonly owner: string;
  private readonly owned = new Map<string, OwnershipRecord>();
  /** Accounts another cluster's dbusers owns on this server, and that owner. */
  private readonly others = new Map<string, string>();
  /** Who holds each secret, on any cluster: a batch of many creates looks each one up once. */
  private readonly holders = new Map<string, OwnershipRecord[]>();
  /** Roles owned on this cluster, kept as the batch claims more. */
  private readonly ownedRoles = new Set<string>();
  /** Roles this batch makes, in order: a later action may grant them. */
  private readonly madeRoles = new Set<string>();
  /** Whether the connected account may grant a role (roles.ts), made when first needed. */
  private mayGrant?: (role: string) => boolean;

  /** Accounts the batch deletes: their secrets are free for the users it creates (a hand-over). */
  private readonly deleting: Set<string>;

  constructor(
    private readonly target: ClusterSpec,
    private readonly dialect: Dialect,
    private readonly actual: ActualState,
    actions: readonly Action[],
  ) {
    this.deleting = new Set(actions.filter((a) => a.kind === 'delete_user').map(accountKey));
    this.accounts = new Map(actual.accounts.map((a) => [accountKey(a), a]));
    this.owner = ownerOf(target);
    for (const o of actual.owned) {
      if (o.owner === this.owner) this.claim(o);
      else {
        this.others.set(accountKey(o), o.owner);
        this.hold(o);
      }
    }
  }

  /** Record an account of this cluster as owned, replacing its earlier record in every index. */
  private claim(o: OwnershipRecord): void {
    const key = accountKey(o);
    const before = this.owned.get(key);
    if (before?.secretName)
      this.holders.set(
        before.secretName,
        this.holders.get(before.secretName)!.filter((h) => h !== before),
      );
    this.owned.set(key, o);
    this.hold(o);
    if (o.kind === 'role') this.ownedRoles.add(o.user);
  }

  private hold(o: OwnershipRecord): void {
    if (o.secretName) this.holders.set(o.secretName, [...(this.holders.get(o.secretName) ?? []), o]);
  }

  /** The rules every action meets, then those of its kind. */
  check(a: Action): string | undefined {
    const problems = actionProblems(a, this.dialect);
    if (problems.length > 0) return `malformed: ${problems.join('; ')}`;
    if (isProtected(a, { adminUsers: this.actual.adminUsers, listed: this.target.protectedAccounts })) {
      return `${displayAccount(a)} is protected and is never changed`;
    }
    const stray = ('roles' in a ? a.roles : []).find((r) => isBuiltInProtected(r) || !this.ownsRole(r));
    if (stray !== undefined)
      return `role ${JSON.stringify(stray)} is not managed by dbusers on this cluster, so it is not granted`;
    const kind =
      a.kind === 'create_role' || a.kind === 'drop_role'
        ? 'role'
        : a.kind === 'update_grant'
          ? a.accountKind
          : 'user';
    const have = this.accounts.get(accountKey(a));
    if (have && have.kind !== kind)
      return `${displayAccount(a)} is a ${have.kind} on the server, not a ${kind}`;
    const secretName = 'secretName' in a ? a.secretName : undefined;
    if (secretName !== undefined && isMasterSecret(this.target, secretName))
      return `secret ${secretName} is the cluster's master secret`;
    const mine = this.owned.get(accountKey(a));
    switch (a.kind) {
      case 'create_user':
      case 'create_role':
        return this.checkCreate(a, kind, have, mine);
      case 'update_grant':
        if (!mine || !have) return notManaged(a);
        return this.outOfReach(a, have) ?? this.policy(a, diffGrants(a.grants, have.grants).add);
      case 'reset_password':
      case 'delete_user':
        if (!mine) return notManaged(a);
        if (a.kind === 'reset_password' && !have) return notManaged(a);
        // A delete may leave the secret to a new user (no secretName); a reset names the one on record.
        if (a.secretName !== mine.secretName && (a.kind === 'reset_password' || a.secretName !== undefined)) {
          return `the secret of ${displayAccount(a)} is ${JSON.stringify(mine.secretName ?? null)}, not ${JSON.stringify(a.secretName)}`;
        }
        return undefined;
      case 'drop_role':
        return mine ? undefined : notManaged(a);
    }
  }

  /** The roles an action grants or revokes that the connected account may not (roles.ts). */
  private outOfReach(a: CreateUserAction | CreateRoleAction | UpdateGrantAction, have?: ActualAccount) {
    const touched = touchedRoles(a, have);
    if (touched.length === 0) return undefined;
    this.mayGrant ??= roleGrantor(this.actual, (r) => this.madeRoles.has(r));
    return rolesOutOfReach(touched, this.mayGrant, this.actual);
  }

  private ownsRole(role: string): boolean {
    return this.madeRoles.has(role) || this.ownedRoles.has(role);
  }

  /** The grants an action adds pass the privilege policy (revoking is always allowed). */
  private policy(a: Action, added: readonly Grant[]): string | undefined {
    const refused = refusedGrants(a, added, this.target.engine, this.target.privilegeExceptions);
    return refused.length > 0 ? `privilege policy: ${refused.join('; ')}` : undefined;
  }

  /** A create: where nothing exists, or an adoption of what is nobody else's; later actions see its result. */
  private checkCreate(
    a: CreateUserAction | CreateRoleAction,
    kind: 'user' | 'role',
    have?: ActualAccount,
    mine?: OwnershipRecord,
  ): string | undefined {
    const key = accountKey(a);
    // An account that exists keeps the secret it was made with, as a reset does: never moved, never swapped.
    const secretName = a.kind === 'create_user' ? a.secretName : undefined;
    if (have && mine && kind === 'user' && secretName !== mine.secretName)
      return `the secret of ${displayAccount(a)} is ${JSON.stringify(mine.secretName ?? null)}, not ${JSON.stringify(secretName ?? null)}`;
    // One secret, one account, whichever cluster claims it (clusters of an account and Region share
    // Secrets Manager's names): refused here, before the claim is written, not half-way through.
    const holder =
      secretName === undefined
        ? undefined
        : this.holders
            .get(secretName)
            ?.find((o) => accountKey(o) !== key && !this.deleting.has(accountKey(o)));
    if (holder) return `secret ${secretName} holds the password of ${displayAccount(holder)}`;
    if (have && !mine) {
      if (this.others.has(key))
        return `${displayAccount(a)} is managed by dbusers for ${this.others.get(key)}`;
      if (!a.adopt)
        return `${displayAccount(a)} exists and dbusers did not create it; adopting it must be declared (adopt: true)`;
      const held = refusedGrants(
        a,
        have.grants.filter((g) => g.level === 'global'),
        this.target.engine,
        this.target.privilegeExceptions,
      );
      if (held.length > 0)
        return `adopting ${displayAccount(a)} needs privilegeExceptions for what it holds: ${held.join('; ')}`;
    }
    const refused = this.outOfReach(a, have) ?? this.policy(a, diffGrants(a.grants, have?.grants ?? []).add);
    if (refused) return refused;
    if (a.kind === 'create_role') this.madeRoles.add(a.user);
    this.claim({ user: a.user, host: a.host, kind, owner: this.owner, secretName });
    this.accounts.set(key, {
      ...(have ?? newAccount(a, kind)),
      grants: a.grants,
      roles: a.roles,
      adminRoles: a.adminRoles,
    });
    return undefined;
  }
}
