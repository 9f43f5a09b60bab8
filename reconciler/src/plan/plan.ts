/**
 * The planner: desired × actual → the actions that make the server match the YAML. Pure: no I/O,
 * no clock (`now` is an input), no logging; what it does not act on is returned as `skipped`.
 *
 *   declared | on server | ours (registry) | → action
 *   ---------+-----------+-----------------+-------------------------------------------------------
 *   any      | any       | any             | protected account            → skipped 'protected'
 *   yes      | no        | any             | create_role / create_user    (missing)
 *   yes      | yes       | yes             | update_grant if grants, roles or default roles differ;
 *            |           |                 | reset_password if the secret is missing, a reset was
 *            |           |                 | interrupted, requested, or rotation is due
 *            |           |                 | or the server's password is not the secret's
 *   yes      | yes       | no, adopt: true | create_role / create_user with adopt (claims it), unless
 *            |           |                 | it holds global privileges the policy refuses and no
 *            |           |                 | exception allows → skipped 'privilege policy'
 *   yes      | yes       | no              | skipped 'not adopted'
 *   no       | yes       | yes             | drop_role / delete_user      (not declared)
 *   no       | no        | yes             | delete_user (a claim left by an interrupted run: clean up,
 *            |           |                 | not counted against the delete limit)
 *   any      | yes       | row unverified  | skipped 'unverified ownership' (a registry row written by hand)
 *   yes, naming a table or routine the server lacks → skipped 'missing object' (apply would fail half-way)
 *   yes, naming a privilege the server's version lacks, or changing a role the connected account
 *        may not grant (no ADMIN OPTION on it, nor MySQL's ROLE_ADMIN: roles.ts) → skipped
 *        'missing privilege' (the same)
 *   yes, setting a password where MariaDB refuses a password hash (a password validation plugin and
 *        strict_password_validation ON)     → skipped 'unsupported', its other actions kept
 *   yes, its password in another secret than the YAML names, or naming a secret another declared
 *        account's password is in                     → skipped 'secret name' (the executor refuses both)
 *   no       | yes       | no              | skipped 'unmanaged'
 *   deletes over the limit (count or share of owned accounts) → all skipped 'over delete limit'
 *   any action, on a read-only server (read_only, innodb_read_only) → skipped 'unsupported'
 */
import { dialectForEngine, dialectForVersion } from '../dialect/index.js';
import { AccountMap } from '../model/account-map.js';
import { roleGrantor, rolesOutOfReach, touchedRoles } from '../model/roles.js';
import {
  describeGrant,
  describeObject,
  diffGrants,
  diffNames,
  lowerCaseNames,
  objectOf,
} from '../model/grants.js';
import {
  accountKey,
  defaultRolesOf,
  displayAccount,
  NO_NAMES,
  ownerOf,
  PROTECTED_ACCOUNT,
  type AccountId,
  type Action,
  type ActualAccount,
  type ActualState,
  type ClusterSpec,
  type DesiredAccount,
  type DesiredTarget,
  type Grant,
  type OwnershipRecord,
  type Plan,
  type CreateRoleAction,
  type Skipped,
  type UpdateGrantAction,
} from '../model/types.js';
import { exceptionFor, policyViolation, refusedGrants } from '../model/privilege-policy.js';
import { isProtected, type ProtectionRules } from '../model/protected.js';

/** What a run allows; every field has a safe default. */
export interface PlanOptions {
  /** Unix seconds, for rotation; the planner never reads the clock. */
  now: number;
  /** Refuse a plan deleting more than `count` accounts, or more than `share` of the owned ones. */
  deleteLimit?: { count: number; share: number };
  allowDeletes?: boolean;
  /** Accounts (`user@host`) whose password a person asked to reset. */
  resetRequested?: readonly string[];
}

export const DEFAULT_DELETE_LIMIT = { count: 10, share: 0.5 };

const ORDER: Record<Action['kind'], number> = {
  create_role: 0,
  create_user: 1,
  update_grant: 2,
  reset_password: 3,
  delete_user: 4,
  drop_role: 5,
};

/** What one pass over the accounts needs besides the account itself. */
interface PlanContext {
  cluster: ClusterSpec;
  actual: ActualState;
  options: PlanOptions;
  owner: string;
  unverified: Set<string>;
  /** A secret a declared account names again is handed over, not deleted with its old user. */
  declaredSecrets: Set<string>;
  /** The tables and routines the server lacks, as `describeObject` names them. */
  missingObjects: Set<string>;
  /** Privileges only later versions of the server's engine have (SHOW CREATE ROUTINE before MariaDB 11.3). */
  newerPrivileges: Set<string>;
  protection: ProtectionRules;
  /** The declared accounts, for the rare check that needs them by name (made when first asked). */
  declared: readonly DesiredAccount[];
  /** Which owned, declared account holds each secret: made when a created account first asks. */
  holders?: Map<string, OwnershipRecord>;
  /** Whether the connected account may grant and revoke a role (roles.ts): made when a role change first asks. */
  mayGrant?: (role: string) => boolean;
}

/** What the table above decides for one account: actions, a skip, or a delete (counted against the limit). */
interface Decision {
  actions?: Action[];
  skip?: Skipped;
  delete?: Action;
}

/** Compute the plan for one cluster. */
export function plan(target: DesiredTarget, actual: ActualState, options: PlanOptions): Plan {
  // Roles take the host the server gives them ('' on MariaDB, '%' on MySQL), whatever was declared;
  // grants name databases, tables and routines as the server keeps them (lower_case_table_names).
  const accounts = target.accounts.map((a) => {
    const named = actual.lowerCaseNames ? { ...a, grants: a.grants.map(lowerCaseNames) } : a;
    return named.kind === 'role' ? { ...named, host: actual.roleHost } : named;
  });
  const { cluster } = target;
  const declaredSecrets = new Set<string>();
  for (const d of accounts) if (d.secretName) declaredSecrets.add(d.secretName);
  const context: PlanContext = {
    cluster,
    actual,
    options,
    owner: ownerOf(cluster),
    unverified: new Set(actual.unverifiedClaims.map(accountKey)),
    declaredSecrets,
    missingObjects: new Set(actual.missingObjects?.map(describeObject)),
    newerPrivileges: newerThanServer(cluster, actual),
    protection: { adminUsers: actual.adminUsers, listed: cluster.protectedAccounts },
    declared: accounts,
  };
  const actions: Action[] = [];
  const skipped: Skipped[] = [];
  const deletes: Action[] = [];
  // One pass over every account named anywhere, following the table above.
  for (const entry of accountsByName(accounts, actual)) {
    const d = decide(entry, context);
    if (d.actions) for (const a of d.actions) actions.push(a);
    if (d.skip) skipped.push(d.skip);
    if (d.delete) deletes.push(d.delete);
  }
  let owned = 0;
  for (const o of actual.owned) if (o.owner === context.owner) owned++;
  const overLimit = deleteLimitDetail(deletes.length, owned, options);
  if (overLimit)
    skipped.push(
      ...deletes.map((d) => ({
        user: d.user,
        host: d.host,
        reason: 'over delete limit' as const,
        detail: overLimit,
      })),
    );
  else actions.push(...deletes);
  // A read-only server (a read replica, an Aurora reader endpoint) refuses every change: each
  // account it would touch is said once, and nothing is sent.
  if (actual.readOnly) {
    const refused = new AccountMap<AccountId>();
    for (const a of actions.splice(0))
      if (!refused.get(a.user, a.host)) {
        refused.add(a);
        skipped.push({ user: a.user, host: a.host, reason: 'unsupported', detail: READ_ONLY });
      }
  }
  return {
    cluster: cluster.name,
    account: cluster.account,
    alias: cluster.alias,
    ...(actual.server ? { server: actual.server } : {}),
    actions: sortActions(actions, actual),
    skipped: skipped.sort((a, b) => cmp(accountKey(a), accountKey(b))),
    exceptions: exceptionsShown(accounts, cluster),
    iamConnect: accounts
      .filter((d) => d.auth === 'iam')
      .map((d) => ({
        user: d.user,
        resource: `arn:aws:rds-db:${cluster.region}:${cluster.account}:dbuser:${cluster.resourceId ?? '<DbClusterResourceId>'}/${d.user}`,
        principals: d.iamPrincipals,
      })),
  };
}

const READ_ONLY =
  "the server is read-only (read_only or innodb_read_only: a read replica, or an Aurora reader endpoint?), so it refuses every change: point the cluster's endpoint at the writer";

/** Why the deletes are over the limit, or undefined when they may go ahead. */
function deleteLimitDetail(count: number, owned: number, options: PlanOptions): string | undefined {
  const limit = options.deleteLimit ?? DEFAULT_DELETE_LIMIT;
  const share = owned > 0 ? count / owned : 0;
  if (options.allowDeletes || (count <= limit.count && (count <= 1 || share <= limit.share)))
    return undefined;
  return `the plan deletes ${count} of ${owned} managed accounts, over the limit (${limit.count}, or ${Math.round(limit.share * 100)}%); run again allowing deletes if this is meant`;
}

/** Nothing to do for an account (most accounts of a server in sync). */
const NOTHING: Decision = Object.freeze({});

/** A skip, as a decision. */
function skipOf(account: AccountId, reason: Skipped['reason'], detail: string): Decision {
  return { skip: { user: account.user, host: account.host, reason, detail } };
}

/** One account, by the table above. */
function decide(entry: AccountEntry, ctx: PlanContext): Decision {
  const { user, host, want, have, claim: anyClaim } = entry;
  if (isProtected(entry, ctx.protection)) {
    if (want) return skipOf(entry, 'protected', 'declared, but protected accounts are never changed');
    if (!have) return NOTHING;
    // What MariaDB's PUBLIC role grants, every account holds: a reviewer must see it.
    const everyone =
      ctx.actual.engine === 'mariadb' && user === 'PUBLIC' && host === '' && have.grants.length > 0;
    return skipOf(
      entry,
      'protected',
      everyone
        ? `MariaDB's PUBLIC role, so every account holds what it grants: ${have.grants.map(describeGrant).join(', ')}`
        : PROTECTED_ACCOUNT,
    );
  }
  if (have && !anyClaim && ctx.unverified.has(accountKey({ user, host }))) {
    return skipOf(
      entry,
      'unverified ownership',
      'its ownership record fails the integrity check (written outside dbusers?); it is left alone until the row is removed',
    );
  }
  // A claim by another cluster served by the same server is not ours: that account is left alone.
  const claim = anyClaim?.owner === ctx.owner ? anyClaim : undefined;
  const foreign = anyClaim && !claim ? `managed by dbusers for ${anyClaim.owner}` : undefined;
  if (want)
    return passwordsAccepted(
      withinReach(decideDeclared(want, have, claim, foreign, ctx), want, have, ctx),
      want,
      ctx,
    );
  if (have && !claim) return skipOf(entry, 'unmanaged', foreign ?? 'not declared and not created by dbusers');
  if (have?.kind === 'role') return { delete: { kind: 'drop_role', user, host, reason: 'not declared' } };
  const secretName =
    claim?.secretName && !ctx.declaredSecrets.has(claim.secretName) ? claim.secretName : undefined;
  if (claim && have)
    return { delete: { kind: 'delete_user', user, host, secretName, reason: 'not declared' } };
  // A claim on an account that does not exist: nothing to lose, so cleaning it up is no delete.
  if (claim)
    return {
      actions: [
        {
          kind: 'delete_user',
          user,
          host,
          secretName,
          reason: 'not declared (ownership record left by an interrupted run)',
        },
      ],
    };
  return NOTHING;
}

/**
 * A decision whose actions grant or revoke a role the connected account may not (roles.ts) becomes
 * a skip: the apply would fail half-way, every time.
 */
function withinReach(
  d: Decision,
  want: DesiredAccount,
  have: ActualAccount | undefined,
  ctx: PlanContext,
): Decision {
  const a = d.actions?.find((x) => 'roles' in x);
  const touched = a && 'roles' in a ? touchedRoles(a, have) : NO_NAMES;
  if (touched.length === 0) return d;
  ctx.mayGrant ??= grantableRoles(ctx);
  const why = rolesOutOfReach(touched, ctx.mayGrant, ctx.actual);
  return why ? skipOf(want, 'missing privilege', `${why} (${want.source})`) : d;
}

/**
 * On a MariaDB that refuses a password given as its hash (a password validation plugin with
 * strict_password_validation ON), the actions that would set a password become a skip saying what to
 * change; the account's other actions stay. dbusers gives MariaDB only hashes: its general, slow and
 * binary logs keep statements as sent, clear-text passwords included.
 */
function passwordsAccepted(d: Decision, want: DesiredAccount, ctx: PlanContext): Decision {
  const by = ctx.actual.passwordHashRefusedBy;
  if (by === undefined || !d.actions?.some(setsPassword)) return d;
  const rest = d.actions.filter((a) => !setsPassword(a));
  return {
    ...(d.skip
      ? { skip: d.skip }
      : skipOf(
          want,
          'unsupported',
          `the server checks passwords (${by}) with strict_password_validation ON, so it refuses a password given as its hash, the only way dbusers gives MariaDB one (its logs keep statements as sent): set strict_password_validation to OFF (on RDS, in the DB parameter group) (${want.source})`,
        )),
    ...(rest.length > 0 ? { actions: rest } : {}),
  };
}

/** Whether an action gives the server a password. */
function setsPassword(a: Action): boolean {
  return (a.kind === 'create_user' && a.auth === 'password') || a.kind === 'reset_password';
}

/** Whether the connected account may grant a role: what it administers, and on MariaDB the roles this plan makes. */
function grantableRoles(ctx: PlanContext): (role: string) => boolean {
  const existing = new Set<string>();
  for (const a of ctx.actual.accounts) if (a.kind === 'role') existing.add(a.user);
  const made = new Set<string>();
  for (const d of ctx.declared) if (d.kind === 'role' && !existing.has(d.user)) made.add(d.user);
  return roleGrantor(ctx.actual, (r) => made.has(r));
}

/** A declared account: create, converge, adopt, or say why not. */
function decideDeclared(
  want: DesiredAccount,
  have: ActualAccount | undefined,
  claim: OwnershipRecord | undefined,
  foreign: string | undefined,
  ctx: PlanContext,
): Decision {
  const refusal = refusedByServer(want, have, claim, ctx);
  if (refusal) return skipOf(want, refusal[0], `${refusal[1]} (${want.source})`);
  if (!have && want.auth === 'iam' && !ctx.actual.supportsIamAuth && !ctx.actual.iamStandIn)
    return skipOf(
      want,
      'unsupported',
      `auth: iam, but the server has no AWSAuthenticationPlugin: enable IAM database authentication on the cluster first (${want.source})`,
    );
  if (!have) return { actions: [createAction(want, false, 'missing')] };
  if (have.proxies?.length) {
    // PROXY has no YAML spelling: managing the account's grants would pass it over in silence.
    return skipOf(
      want,
      'unsupported',
      `it may act as ${have.proxies.join(', ')} (PROXY, granted by hand), which dbusers does not manage; revoke it on the server or leave the account out of the YAML`,
    );
  }
  if (claim && want.auth === 'password' && !claim.secretName && have.kind === 'user') {
    // Made without a password (IAM): no secret of its own, and the executor puts no password in one it was not made with.
    return skipOf(
      want,
      'unsupported',
      'declared auth: password, but dbusers made it without a password (auth: iam); remove it in one change and declare it again in the next, or declare a new password user',
    );
  }
  if (have.locked && want.auth === 'password') {
    // Locked by hand (an incident, a retirement): a password reset's login test would fail on it, and unlocking is not ours to do.
    return skipOf(
      want,
      'unsupported',
      'it is locked (ACCOUNT LOCK, set by hand), which no YAML declares; dbusers leaves it as it is: unlock it (ALTER USER … ACCOUNT UNLOCK) or leave the account out of the YAML',
    );
  }
  if ((claim || want.adopt) && have.partialRevokes?.length) {
    // A partial revoke narrows a global grant per schema; the YAML cannot say so, so the plan would misread it.
    return skipOf(
      want,
      'unsupported',
      `it holds MySQL partial revokes (${have.partialRevokes.join(', ')}) that dbusers does not manage; its grants are left as they are`,
    );
  }
  if (claim && want.auth === 'iam' && have.auth === 'password') {
    // Switching a live password user to IAM would cut off every client still using the password.
    const detail =
      'declared auth: iam, but the account logs in with a password; create a new IAM user and move clients to it';
    return {
      ...skipOf(want, 'unsupported', detail),
      actions: convergeActions(want, have, ctx.actual, ctx.options),
    };
  }
  if (claim) {
    const actions = convergeActions(want, have, ctx.actual, ctx.options);
    return actions.length > 0 ? { actions } : NOTHING;
  }
  if (foreign)
    return skipOf(want, 'not adopted', `${foreign}; declare it in one cluster only (${want.source})`);
  if (!want.adopt)
    return skipOf(
      want,
      'not adopted',
      `exists but dbusers did not create it; set adopt: true to manage it (${want.source})`,
    );
  const held = have.grants.filter((g) => g.level === 'global');
  const refused = refusedGrants(have, held, ctx.actual.engine, ctx.cluster.privilegeExceptions);
  if (refused.length > 0)
    return skipOf(
      want,
      'privilege policy',
      `adopting it needs privilegeExceptions for what it holds: ${refused.join('; ')}`,
    );
  return { actions: [createAction(want, true, 'adopt existing account')] };
}

/** The grants the privilege policy refuses that an exception allows: shown in every plan, with the reason. */
function exceptionsShown(accounts: readonly DesiredAccount[], cluster: ClusterSpec): Plan['exceptions'] {
  const shown: Plan['exceptions'] = [];
  if (!cluster.privilegeExceptions?.length) return shown;
  for (const d of accounts)
    for (const g of d.grants) {
      const allowedBy = policyViolation(g, cluster.engine)
        ? exceptionFor(d, g, cluster.privilegeExceptions)
        : undefined;
      if (allowedBy)
        shown.push({ user: d.user, host: d.host, grant: describeGrant(g), reason: allowedBy.reason });
    }
  return shown;
}

function createAction(want: DesiredAccount, adopt: boolean, reason: string): Action {
  return want.kind === 'role'
    ? {
        kind: 'create_role',
        user: want.user,
        host: want.host,
        adopt,
        grants: want.grants,
        roles: want.roles,
        ...adminOf(want),
        reason,
      }
    : {
        kind: 'create_user',
        user: want.user,
        host: want.host,
        auth: want.auth,
        adopt,
        secretName: want.secretName,
        grants: want.grants,
        roles: want.roles,
        ...adminOf(want),
        ...nonDefaultOf(want),
        reason,
      };
}

/** The admin option, only where there is one: plans without it stay as they were. */
function adminOf(a: { adminRoles?: readonly string[] }): { adminRoles?: string[] } {
  return a.adminRoles?.length ? { adminRoles: [...a.adminRoles].sort() } : {};
}

/** The roles held but not made default, only where there are some. */
function nonDefaultOf(a: DesiredAccount): { nonDefaultRoles?: string[] } {
  return a.nonDefaultRoles?.length ? { nonDefaultRoles: a.nonDefaultRoles } : {};
}

/** An owned account that exists: what differs between it and its declaration. */
function convergeActions(
  want: DesiredAccount,
  have: ActualAccount,
  actual: ActualState,
  options: PlanOptions,
): Action[] {
  const grants = diffGrants(want.grants, have.grants);
  const roles = diffNames(want.roles, have.roles);
  const admin = diffNames(want.adminRoles ?? NO_NAMES, have.adminRoles ?? NO_NAMES);
  const defaults =
    want.kind === 'user'
      ? diffNames(defaultRolesOf(want, actual.multipleDefaultRoles), have.defaultRoles)
      : { add: [], remove: [] };
  const grantsDiffer =
    grants.add.length +
      grants.remove.length +
      roles.add.length +
      roles.remove.length +
      admin.add.length +
      admin.remove.length >
    0;
  const reset = resetReason(want, have, actual, options);
  // Most owned accounts match their declaration: nothing is built for them.
  if (!grantsDiffer && defaults.add.length + defaults.remove.length === 0 && !(reset && want.secretName))
    return NO_ACTIONS;
  const out: Action[] = [];
  if (grantsDiffer || defaults.add.length + defaults.remove.length > 0) {
    const why = [
      ...grants.add.map((g) => `+${describeGrant(g)}`),
      ...grants.remove.map((g) => `-${describeGrant(g)}`),
      ...roles.add.map((r) => `+role ${r}`),
      ...roles.remove.map((r) => `-role ${r}`),
      ...admin.add.map((r) => `+admin option on role ${r}`),
      ...admin.remove.map((r) => `-admin option on role ${r}`),
    ];
    out.push({
      kind: 'update_grant',
      user: want.user,
      host: want.host,
      accountKind: want.kind,
      grants: want.grants,
      roles: want.roles,
      ...adminOf(want),
      ...nonDefaultOf(want),
      before: { grants: [...have.grants], roles: [...have.roles].sort(), ...adminOf(have) },
      reason: grantsDiffer ? `grants differ: ${why.join(', ')}` : 'default roles differ',
    });
  }
  if (reset && want.secretName)
    out.push({
      kind: 'reset_password',
      user: want.user,
      host: want.host,
      secretName: want.secretName,
      reason: reset,
    });
  return out;
}

const NO_ACTIONS: Action[] = Object.freeze([]) as unknown as Action[];

function resetReason(
  want: DesiredAccount,
  have: ActualAccount,
  actual: ActualState,
  options: PlanOptions,
): string | undefined {
  if (want.auth !== 'password' || !want.secretName) return undefined;
  const secret = actual.secrets[want.secretName];
  if (have.auth === 'iam') return 'authentication changes from iam to password';
  if (have.auth === 'none') return 'the account has no password';
  if (!secret || secret.deleted || (!secret.hasCurrent && !secret.hasPending)) return 'secret missing';
  if (secret.hasPending) return 'finish an interrupted reset (pending secret version)';
  if (have.passwordMatchesSecret === false)
    return "the server's password is not the secret's (changed outside dbusers, or another secret store)";
  const expired = expiredReason(have, actual, options.now);
  if (expired) return expired;
  if (options.resetRequested?.includes(accountKey(want))) return 'reset requested';
  if (want.rotationDays && !secret.rotationEnabled && secret.changedAt !== undefined) {
    const days = Math.floor((options.now - secret.changedAt) / 86_400);
    if (days >= want.rotationDays) return `password is ${days} days old (rotationDays: ${want.rotationDays})`;
  }
  return undefined;
}

/**
 * Why the server refuses an account's password now, if it does: expired by hand (`PASSWORD EXPIRE`),
 * or older than its lifetime (the account's own, or the server's default_password_lifetime). Its
 * clients are refused every statement until the password is set again, which a reset does.
 */
function expiredReason(have: ActualAccount, actual: ActualState, now: number): string | undefined {
  if (have.passwordExpired)
    return 'the server has expired its password (PASSWORD EXPIRE): clients are refused';
  const days = have.passwordLifetime ?? actual.defaultPasswordLifetime ?? 0;
  if (days > 0 && have.passwordChangedAt !== undefined && now >= have.passwordChangedAt + days * 86_400)
    return `its password is older than its lifetime on the server (${days === 1 ? '1 day' : `${days} days`}): clients are refused`;
  return undefined;
}

/** The tables and routines an account's grants name that the server does not have, as a person names them. */
function missingFor(want: DesiredAccount, missing: ReadonlySet<string>): readonly string[] {
  return namedIn(want, (g) => {
    const o = objectOf(g);
    const name = o && describeObject(o);
    return name !== undefined && missing.has(name) ? name : undefined;
  });
}

/**
 * What the server would refuse for a declared account, before anything is planned for it: a table
 * or routine it lacks, a privilege its version lacks, a secret that cannot be the account's. An
 * apply would fail half-way on each, every time.
 */
function refusedByServer(
  want: DesiredAccount,
  have: ActualAccount | undefined,
  claim: OwnershipRecord | undefined,
  ctx: PlanContext,
): [Skipped['reason'], string] | undefined {
  const missing = ctx.missingObjects.size > 0 ? missingFor(want, ctx.missingObjects) : NO_NAMES;
  if (missing.length > 0)
    return [
      'missing object',
      `its grants name ${missing.join(', ')}, which the server does not have: create them first, or drop the grant`,
    ];
  const newer = ctx.newerPrivileges.size > 0 ? newerFor(want, ctx.newerPrivileges) : NO_NAMES;
  if (newer.length > 0)
    return [
      'missing privilege',
      `its grants name ${newer.join(', ')}, which this server (${ctx.actual.version}) does not have`,
    ];
  const taken = secretTaken(want, have, claim, ctx);
  return taken ? ['secret name', taken] : undefined;
}

/**
 * Why an account cannot use the secret the YAML names, if it cannot: the password of an account
 * that stays lives there, or its own password lives in another one. The executor refuses both (a
 * secret holds one account's password, and no password is moved to a secret it was not made in),
 * so the plan says it, instead of an apply that fails every time.
 */
function secretTaken(
  want: DesiredAccount,
  have: ActualAccount | undefined,
  claim: OwnershipRecord | undefined,
  ctx: PlanContext,
): string | undefined {
  if (want.secretName === undefined) return undefined;
  if (have && claim) {
    if (claim.secretName === undefined || claim.secretName === want.secretName) return undefined;
    return `its password is in secret ${claim.secretName}, and the YAML names ${want.secretName}: dbusers never moves a password to another secret`;
  }
  ctx.holders ??= secretHolders(ctx);
  const holder = ctx.holders.get(want.secretName);
  if (!holder || (holder.user === want.user && holder.host === want.host)) return undefined;
  return `secret ${want.secretName} holds the password of ${displayAccount(holder)}, which stays declared`;
}

/** Owned accounts that stay declared, by the secret their password is in. */
function secretHolders(ctx: PlanContext): Map<string, OwnershipRecord> {
  const declared = new Set(ctx.declared.map(accountKey));
  const holders = new Map<string, OwnershipRecord>();
  for (const o of ctx.actual.owned)
    if (o.secretName && o.owner === ctx.owner && declared.has(accountKey(o))) holders.set(o.secretName, o);
  return holders;
}

/**
 * Privileges the YAML may name (its declared engine version offers them) that the server's version
 * lacks: usually none, and then no account's grants are looked through.
 */
function newerThanServer(cluster: ClusterSpec, actual: ActualState): Set<string> {
  const offered = Object.values(dialectForEngine(cluster.engine, cluster.engineVersion).privileges).flat();
  const lacking = Object.keys(dialectForVersion(actual.version).newerPrivileges ?? {});
  return new Set(lacking.filter((p) => offered.includes(p)));
}

/** The privileges an account's grants name that only later versions of the server's engine have. */
function newerFor(want: DesiredAccount, newer: ReadonlySet<string>): readonly string[] {
  return namedIn(want, (g) => (newer.has(g.privilege) ? g.privilege : undefined));
}

/** The distinct names `name` gives an account's grants, for the grants it gives one. */
function namedIn(want: DesiredAccount, name: (g: Grant) => string | undefined): readonly string[] {
  let found: Set<string> | undefined;
  for (const g of want.grants) {
    const n = name(g);
    if (n !== undefined) (found ??= new Set()).add(n);
  }
  return found ? [...found] : NO_NAMES;
}

/** One account as the YAML, the server and the registry each see it. */
interface AccountEntry {
  user: string;
  host: string;
  want?: DesiredAccount;
  have?: ActualAccount;
  claim?: OwnershipRecord;
}

/** Every account named by the YAML, the server or the registry, with what each says of it. */
function accountsByName(declared: readonly DesiredAccount[], actual: ActualState): AccountEntry[] {
  const byName = new AccountMap<AccountEntry>();
  const entries: AccountEntry[] = [];
  const entry = (a: AccountId): AccountEntry => {
    let e = byName.get(a.user, a.host);
    if (e === undefined) {
      // Every field from the start: one object shape for all entries.
      e = { user: a.user, host: a.host, want: undefined, have: undefined, claim: undefined };
      byName.add(e);
      entries.push(e);
    }
    return e;
  };
  for (const d of declared) entry(d).want = d;
  for (const a of actual.accounts) entry(a).have = a;
  for (const o of actual.owned) entry(o).claim = o;
  return entries;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Deterministic order: by kind, then roles a new role holds before it, role updates in an order that
 * closes no cycle of roles (acyclicOrder), then by account.
 */
function sortActions(actions: Action[], actual: ActualState): Action[] {
  const sorted = byKind([...actions]);
  const isRoleUpdate = (a: Action): a is UpdateGrantAction =>
    a.kind === 'update_grant' && a.accountKind === 'role';
  // Most plans touch no role: nothing more to order.
  if (!sorted.some((a) => a.kind === 'create_role' || isRoleUpdate(a))) return sorted;
  const held = new Map<string, readonly string[]>();
  for (const a of actual.accounts) if (a.kind === 'role') held.set(a.user, a.roles);
  const { creates, later } = withoutCycles(dependencyOrder(sorted), held);
  const rest = byKind([...sorted.filter((a) => a.kind !== 'create_role'), ...later]);
  const inOrder = acyclicOrder(rest.filter(isRoleUpdate), held);
  let next = 0;
  for (let i = 0; i < rest.length; i++) if (isRoleUpdate(rest[i]!)) rest[i] = inOrder[next++]!;
  return [...creates, ...rest];
}

function byKind(actions: Action[]): Action[] {
  return actions.sort((a, b) => ORDER[a.kind] - ORDER[b.kind] || cmp(accountKey(a), accountKey(b)));
}

/** The role creates, each after the new roles it holds. */
function dependencyOrder(sorted: readonly Action[]): CreateRoleAction[] {
  const roles = sorted.filter((a) => a.kind === 'create_role');
  const ordered: CreateRoleAction[] = [];
  const placed = new Set<string>();
  const place = (a: CreateRoleAction, seen: Set<string>) => {
    if (placed.has(a.user) || seen.has(a.user)) return;
    seen.add(a.user);
    for (const dep of a.roles) {
      const needed = roles.find((r) => r.user === dep);
      if (needed) place(needed, seen);
    }
    placed.add(a.user);
    ordered.push(a);
  };
  for (const r of roles) place(r, new Set());
  return ordered;
}

/**
 * The creates as they may run first: an adopted role's roles that would close a cycle of roles
 * (one holds it by hand) wait in an update of their own, which acyclicOrder places after the update
 * that revokes the other end. `held` is left as the creates leave the role graph.
 */
function withoutCycles(
  ordered: readonly CreateRoleAction[],
  held: Map<string, readonly string[]>,
): { creates: CreateRoleAction[]; later: UpdateGrantAction[] } {
  const later: UpdateGrantAction[] = [];
  const creates = ordered.map((c): CreateRoleAction => {
    const now = c.roles.filter((r) => mayHold(held, c.user, r));
    held.set(c.user, now);
    if (now.length === c.roles.length) return c;
    const { kind: _, adopt, adminRoles, ...role } = c;
    later.push({
      ...role,
      ...adminOf(c),
      kind: 'update_grant',
      accountKind: 'role',
      before: { grants: c.grants, roles: now },
      reason: `${c.reason}: the roles it holds that would close a cycle of roles until other updates ran`,
    });
    return {
      ...role,
      kind: 'create_role',
      adopt,
      roles: now,
      ...adminOf({ adminRoles: adminRoles?.filter((r) => now.includes(r)) }),
    };
  });
  return { creates, later };
}

/**
 * Whether `account` may hold `role` now without closing a cycle of roles in `held`: it holds it
 * already, or `role` does not hold `account`, itself or through the roles it holds.
 */
function mayHold(held: ReadonlyMap<string, readonly string[]>, account: string, role: string): boolean {
  if (held.get(account)?.includes(role)) return true;
  const seen = new Set<string>();
  const reaches = (r: string): boolean =>
    r === account || (!seen.has(r) && seen.add(r) && (held.get(r) ?? NO_NAMES).some(reaches));
  return !reaches(role);
}

/**
 * Role updates in an order the server takes: it refuses a grant that would close a cycle of roles
 * even for a moment, so r2 stops holding r1 before r1 holds r2. Each update goes when none of the
 * roles it adds reaches it any more. One always can: if every update waited on the edge another
 * still has to revoke, following those edges would make a cycle on the server as it is. `held` is
 * the role graph before them, and is left as they leave it.
 */
function acyclicOrder(
  updates: readonly UpdateGrantAction[],
  held: Map<string, readonly string[]>,
): UpdateGrantAction[] {
  const takes = (u: UpdateGrantAction) => u.roles.every((r) => mayHold(held, u.user, r));
  const pending = [...updates];
  const ordered: UpdateGrantAction[] = [];
  while (pending.length > 0) {
    const [u] = pending.splice(Math.max(0, pending.findIndex(takes)), 1);
    held.set(u!.user, u!.roles);
    ordered.push(u!);
  }
  return ordered;
}

/** True when the plan would change something. */
export function hasChanges(p: Plan): boolean {
  return p.actions.length > 0;
}
