/**
 * The executor's own rules: whatever a batch says, each action is checked here against the server
 * as read under the cluster's lock, before any statement. The planner applies the same rules; the
 * executor does not trust it, since people invoke the executor directly through SSM.
 *
 *   action                      | allowed when
 *   ----------------------------+----------------------------------------------------------------
 *   any                         | its fields are well-formed for the engine, the account is not
 *                               | protected, every role it names is owned or made by this batch
 *   create_user / create_role   | the account does not exist; or it exists, the action says adopt,
 *                               | it is not another cluster's, and the global privileges it holds
 *                               | pass the privilege policy; the grants it adds pass the policy
 *   update_grant                | the account is owned and of that kind; the grants it adds pass
 *   reset_password              | the account is an owned user, the secret is the one on record
 *   delete_user / drop_role     | owned (a user may be gone already: a claim left by a crash)
 */
import type { Dialect } from '../dialect/index.js';
import { diffGrants } from '../model/grants.js';
import { refusedGrants } from '../model/privilege-policy.js';
import { isBuiltInProtected, isProtected } from '../model/protected.js';
import {
  accountKey,
  displayAccount,
  newAccount,
  ownerOf,
  type Action,
  type ActualState,
  type ClusterSpec,
  type Grant,
} from '../model/types.js';
import { actionProblems } from './validate.js';

/** Why each action may not run (undefined: it may), in batch order. */
export function refusals(
  actions: readonly Action[],
  target: ClusterSpec,
  dialect: Dialect,
  actual: ActualState,
): (string | undefined)[] {
  const accounts = new Map(actual.accounts.map((a) => [accountKey(a), a]));
  const owner = ownerOf(target);
  const owned = new Map(actual.owned.filter((o) => o.owner === owner).map((o) => [accountKey(o), o]));
  const others = new Map(actual.owned.filter((o) => o.owner !== owner).map((o) => [accountKey(o), o.owner]));
  const rules = { adminUsers: actual.adminUsers, listed: target.protectedAccounts };
  // Roles this batch makes, in order: a later action may grant them.
  const madeRoles = new Set<string>();
  const ownsRole = (role: string) =>
    madeRoles.has(role) || [...owned.values()].some((o) => o.kind === 'role' && o.user === role);

  return actions.map((a): string | undefined => {
    const problems = actionProblems(a, dialect);
    if (problems.length > 0) return `malformed: ${problems.join('; ')}`;
    if (isProtected(a, rules)) return `${displayAccount(a)} is protected and is never changed`;
    const key = accountKey(a);
    const have = accounts.get(key);
    const mine = owned.get(key);
    const roles = 'roles' in a ? a.roles : [];
    const strayRole = roles.find((r) => isBuiltInProtected(r) || !ownsRole(r));
    if (strayRole !== undefined)
      return `role ${JSON.stringify(strayRole)} is not managed by dbusers on this cluster, so it is not granted`;
    const kind =
      a.kind === 'create_role' || a.kind === 'drop_role'
        ? 'role'
        : a.kind === 'update_grant'
          ? a.accountKind
          : 'user';
    if (have && have.kind !== kind)
      return `${displayAccount(a)} is a ${have.kind} on the server, not a ${kind}`;
    const refused = (grants: readonly Grant[]) =>
      refusedGrants(a, grants, target.engine, target.privilegeExceptions);
    const secretName = 'secretName' in a ? a.secretName : undefined;
    if (secretName !== undefined && isMasterSecret(target, secretName))
      return `secret ${secretName} is the cluster's master secret`;

    switch (a.kind) {
      case 'create_user':
      case 'create_role': {
        if (have && !mine) {
          if (others.has(key)) return `${displayAccount(a)} is managed by dbusers for ${others.get(key)}`;
          if (!a.adopt)
            return `${displayAccount(a)} exists and dbusers did not create it; adopting it must be declared (adopt: true)`;
          const held = refused(have.grants.filter((g) => g.level === 'global'));
          if (held.length > 0)
            return `adopting ${displayAccount(a)} needs privilegeExceptions for what it holds: ${held.join('; ')}`;
        }
        const added = refused(diffGrants(a.grants, have?.grants ?? []).add);
        if (added.length > 0) return `privilege policy: ${added.join('; ')}`;
        // Later actions of the batch see the account as this one leaves it.
        if (a.kind === 'create_role') madeRoles.add(a.user);
        owned.set(key, {
          user: a.user,
          host: a.host,
          kind,
          owner,
          secretName: a.kind === 'create_user' ? a.secretName : undefined,
        });
        accounts.set(key, { ...(have ?? newAccount(a, kind)), grants: a.grants, roles: a.roles });
        return undefined;
      }
      case 'update_grant': {
        if (!mine || !have) return `${displayAccount(a)} is not an account dbusers manages on this cluster`;
        const added = refused(diffGrants(a.grants, have.grants).add);
        return added.length > 0 ? `privilege policy: ${added.join('; ')}` : undefined;
      }
      case 'reset_password':
        if (!mine || !have) return `${displayAccount(a)} is not an account dbusers manages on this cluster`;
        if (mine.secretName !== a.secretName)
          return `the secret of ${displayAccount(a)} is ${JSON.stringify(mine.secretName ?? null)}, not ${JSON.stringify(a.secretName)}`;
        return undefined;
      case 'delete_user':
      case 'drop_role':
        if (!mine) return `${displayAccount(a)} is not an account dbusers manages on this cluster`;
        if (a.kind === 'delete_user' && a.secretName !== undefined && a.secretName !== mine.secretName) {
          return `the secret of ${displayAccount(a)} is ${JSON.stringify(mine.secretName ?? null)}, not ${JSON.stringify(a.secretName)}`;
        }
        return undefined;
    }
    return undefined; // every kind is handled above
  });
}

/** The cluster's master secret, by ARN or by name. */
export function isMasterSecret(target: ClusterSpec, secretName: string): boolean {
  return (
    secretName === target.masterSecretArn ||
    target.masterSecretArn.endsWith(`:secret:${secretName}`) ||
    target.masterSecretArn.replace(/-[A-Za-z0-9]{6}$/, '').endsWith(`:secret:${secretName}`)
  );
}
