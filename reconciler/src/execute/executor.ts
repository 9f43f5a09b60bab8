/**
 * The executor: runs a batch of actions on one server and its secret store. It holds a GET_LOCK
 * for the cluster the whole time, reads the server once under that lock, and makes every action
 * idempotent, so a redelivered or repeated batch converges instead of failing or running twice.
 */
import { dialectForVersion, type Dialect } from '../dialect/index.js';
import { renderGrants, renderRevokes } from '../dialect/statements.js';
import { inspect } from '../inspect/inspect.js';
import { diffGrants, diffNames } from '../model/grants.js';
import {
  accountKey,
  displayAccount,
  defaultRolesOf,
  type AccountId,
  type Action,
  type ActualAccount,
  type ActualState,
  type ClusterSpec,
  type Grant,
  type OwnershipRecord,
  type SecretMeta,
  newAccount,
  ownerOf,
} from '../model/types.js';
import type { Database, SecretStore } from '../ports/index.js';
import { refusals } from './guard.js';
import { createPending, promote, setOnServer, testLogin, type PasswordContext } from './password.js';
import {
  claimAll,
  completedBatch,
  ensureRegistry,
  recordBatch,
  release,
  sealRegistry,
} from '../registry/registry.js';
import {
  DEFAULT_EXECUTOR_OPTIONS,
  type ActionResult,
  type BatchResult,
  type ExecutorBatch,
  type ExecutorOptions,
} from '../model/batch.js';

/** Raised by one action; the batch records it and goes on. */
export class ActionError extends Error {
  override name = 'ActionError';
  constructor(
    message: string,
    readonly account: AccountId,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** What the executor needs from the outside. */
export interface ExecutorDeps {
  /** A connection as the admin (master) account. */
  db: Database;
  secrets: SecretStore;
  /** Open a connection as another account, to test a new password. */
  connectAs(user: string, password: string): Promise<Database>;
  /** Users protected on every host besides the one connected as: the master secret's user. */
  adminUsers?: readonly string[];
  /** Progress lines; never given a password. */
  progress?: (result: ActionResult) => void;
  /** Clock for secret tags (the planner has none; the executor may). */
  now?: () => Date;
}

const LOCK_TIMEOUT_SECONDS = 30;

/** The GET_LOCK name of a cluster: at most 64 characters (MySQL refuses longer names). */
export function lockName(cluster: ClusterSpec): string {
  return `dbusers:${cluster.account}:${cluster.name}`.slice(0, 64);
}

/**
 * Run a batch; returns one result per action, in order. Every action is checked by the executor's
 * own rules (guard.ts) against the server as read under the lock, before any statement.
 */
export async function executeBatch(batch: ExecutorBatch, deps: ExecutorDeps): Promise<BatchResult> {
  const options: ExecutorOptions = { ...DEFAULT_EXECUTOR_OPTIONS, ...batch.options };
  const { db } = deps;
  if (!(await takeLock(db, batch.target, options.sessionTimeoutSeconds))) {
    const message = `another dbusers run holds the lock ${lockName(batch.target)}`;
    const results = batch.actions.map(
      (a): ActionResult => ({ kind: a.kind, user: a.user, host: a.host, status: 'not run', message }),
    );
    for (const r of results) deps.progress?.(r);
    return { cluster: batch.target.name, ok: false, results };
  }
  try {
    return await underLock(batch, deps, options);
  } finally {
    await releaseLock(db, batch.target);
  }
}

/**
 * Take the cluster's lock; false when another run holds it past the wait. A run that hangs must not
 * hold it for the server's 8-hour default: the server closes the session after `idleSeconds` idle,
 * which releases the lock.
 */
export async function takeLock(
  db: Database,
  target: ClusterSpec,
  idleSeconds = DEFAULT_EXECUTOR_OPTIONS.sessionTimeoutSeconds,
): Promise<boolean> {
  await db.query('SET SESSION wait_timeout = ?', [idleSeconds]);
  const [got] = await db.query<{ got: number | null }>('SELECT GET_LOCK(?, ?) AS got', [
    lockName(target),
    LOCK_TIMEOUT_SECONDS,
  ]);
  return Number(got?.got) === 1;
}

export async function releaseLock(db: Database, target: ClusterSpec): Promise<void> {
  await db.query('SELECT RELEASE_LOCK(?)', [lockName(target)]).catch(() => undefined);
}

/** The batch under the cluster lock: a redelivery answered from the record, else read, check, claim, run, seal. */
async function underLock(
  batch: ExecutorBatch,
  deps: ExecutorDeps,
  options: ExecutorOptions,
): Promise<BatchResult> {
  const { db, secrets } = deps;
  await ensureRegistry(db);
  const done = batch.id ? await completedBatch(db, batch.id) : undefined;
  if (done) return { ...(JSON.parse(done) as BatchResult), replayed: true };
  const key = (await secrets.registryKey(true))!;
  const state = await inspect(db, {
    cluster: batch.target.name,
    engine: batch.target.engine,
    secrets,
    registryKey: key,
    adminUsers: deps.adminUsers,
    checkPasswords: false,
  });
  const dialect = dialectForVersion(state.version);
  const refused = refusals(batch.actions, batch.target, dialect, state);
  // Claim every account the batch may create in one statement, before any of them exists.
  const owner = ownerOf(batch.target);
  const claims = batch.actions.flatMap((a, i): OwnershipRecord[] =>
    refused[i]
      ? []
      : a.kind === 'create_user'
        ? [{ user: a.user, host: a.host, kind: 'user', secretName: a.secretName, owner }]
        : a.kind === 'create_role'
          ? [{ user: a.user, host: a.host, kind: 'role', owner }]
          : [],
  );
  const foreign = await claimAll(db, claims, key);
  const run = new ActionRunner(batch.target, dialect, state, deps, options);
  const results: ActionResult[] = [];
  let failures = 0;
  for (const [i, action] of batch.actions.entries()) {
    const why =
      refused[i] ??
      (foreign.has(`${action.user}\0${action.host}`)
        ? "another cluster's declarations own this account on this server"
        : undefined);
    const result =
      failures >= options.maxFailures
        ? notRunAfter(action, failures)
        : why
          ? {
              ...identity(action),
              status: 'refused' as const,
              message: `${action.kind} ${displayAccount(action)}: refused: ${why}`,
            }
          : await runOne(run, action);
    if (result.status === 'failed' || result.status === 'refused') failures++;
    results.push(result);
    deps.progress?.(result);
  }
  const result = { cluster: batch.target.name, ok: results.every((r) => r.status === 'ok'), results };
  // A seal that cannot be renewed (the connection is gone) only makes the next inspection check each row.
  await sealRegistry(db, key).catch(() => undefined);
  if (batch.id && result.ok) await recordBatch(db, batch.id, JSON.stringify(result));
  return result;
}

function identity(a: Action): Pick<ActionResult, 'kind' | 'user' | 'host'> {
  return { kind: a.kind, user: a.user, host: a.host };
}

function notRunAfter(a: Action, failures: number): ActionResult {
  return {
    ...identity(a),
    status: 'not run',
    message: `not run: ${failures} actions failed or were refused, the most one batch tolerates`,
  };
}

/** One action, timed; an error is its failed result, never the batch's end. */
async function runOne(run: ActionRunner, action: Action): Promise<ActionResult> {
  const started = Date.now();
  try {
    const warnings = await run.action(action);
    return {
      ...identity(action),
      status: 'ok',
      message: action.reason,
      ...(warnings.length ? { warnings } : {}),
      durationMs: Date.now() - started,
    };
  } catch (error) {
    return {
      ...identity(action),
      status: 'failed',
      message: `${action.kind} ${displayAccount(action)}: ${explain(error)}`,
      durationMs: Date.now() - started,
    };
  }
}

/** Server errors (MySQL and MariaDB numbers) whose fix lies outside dbusers: say what to do. */
const HINTS: Record<number, string> = {
  1146: 'the grant names a table that does not exist: create it first, or drop the grant (on a test server, --create-missing makes placeholders)',
  1305: 'the grant names a routine that does not exist: create it first, or drop the grant',
  1044: 'the admin account may not grant this on the database (on RDS the master lacks some privileges, e.g. DELETE HISTORY)',
  1045: 'the admin account may not grant this privilege (on RDS the master lacks SUPER, FILE and others)',
  1524: 'the server has no AWSAuthenticationPlugin: enable IAM database authentication on the cluster',
};

/**
 * A failed action's message, with a hint where the fix lies outside dbusers. A server error may quote
 * the statement: whatever follows IDENTIFIED BY is cut, so no password (nor hash) reaches a result or a log.
 */
function explain(error: unknown): string {
  const message = (error as Error).message.replace(
    /IDENTIFIED\s+(BY|WITH|VIA)[\s\S]*/gi,
    'IDENTIFIED … (cut: it holds a password)',
  );
  const hint = HINTS[(error as { errno?: number }).errno ?? 0];
  return hint ? `${message} (${hint})` : message;
}

/** Runs single actions against the state read at the start of the batch, keeping it current. */
class ActionRunner {
  private readonly accounts: Map<string, ActualAccount>;
  private readonly password: PasswordContext;

  constructor(
    private readonly target: ClusterSpec,
    private readonly dialect: Dialect,
    private readonly state: ActualState,
    private readonly deps: ExecutorDeps,
    private readonly options: ExecutorOptions,
  ) {
    this.accounts = new Map(state.accounts.map((a) => [accountKey(a), a]));
    this.password = {
      db: deps.db,
      dialect,
      secrets: deps.secrets,
      target,
      connectAs: deps.connectAs,
      seedSecrets: options.seedSecrets,
    };
  }

  /** Run one action; returns warnings. */
  async action(a: Action): Promise<string[]> {
    switch (a.kind) {
      case 'create_role':
        await this.sql(this.dialect.createRole(a.user));
        this.remember(a, 'role');
        await this.converge(a, 'role');
        return [];
      case 'create_user':
        return this.createUser(a);
      case 'update_grant':
        await this.converge(a, a.accountKind);
        return [];
      case 'reset_password': {
        const current = await this.deps.secrets.getValue(a.secretName, 'AWSCURRENT');
        await this.ensureSecret(a, a.secretName);
        return this.setPassword(a, a.secretName, current?.dbname, true);
      }
      case 'delete_user':
        return this.deleteUser(a);
      case 'drop_role':
        await this.sql(this.dialect.dropAccount(a, 'role'));
        this.accounts.delete(accountKey(a));
        await release(this.deps.db, a, ownerOf(this.target));
        return [];
    }
  }

  private async sql(statement: string): Promise<void> {
    await this.deps.db.query(statement);
  }

  /**
   * Another account a login as `a` may reach instead: the same user on another host, or an anonymous
   * user (`''@'localhost'`), which the server matches before a less specific host.
   */
  private shadowing(a: AccountId): ActualAccount | undefined {
    let anonymous: ActualAccount | undefined;
    for (const o of this.accounts.values()) {
      if (o.kind !== 'user' || o.host === a.host) continue;
      if (o.user === a.user) return o;
      if (o.user === '') anonymous ??= o;
    }
    return anonymous;
  }

  private remember(a: AccountId, kind: 'user' | 'role'): ActualAccount {
    const key = accountKey(a);
    const known = this.accounts.get(key) ?? newAccount(a, kind);
    this.accounts.set(key, known);
    return known;
  }

  private async createUser(a: Extract<Action, { kind: 'create_user' }>): Promise<string[]> {
    const existed = this.accounts.has(accountKey(a));
    const warnings: string[] = [];
    if (a.auth === 'password' && a.secretName) {
      const secret = await this.ensureSecret(a, a.secretName);
      // A redelivered create finds the account made and its secret current: nothing to redo.
      const done = existed && !a.adopt && secret?.hasCurrent && !secret.hasPending && !secret.deleted;
      const database = a.grants.find((g) => g.level !== 'global') as { database?: string } | undefined;
      if (!done) warnings.push(...(await this.setPassword(a, a.secretName, database?.database, existed)));
    } else if (a.auth === 'iam' && !existed) {
      if (this.state.supportsIamAuth) await this.sql(this.dialect.createUser(a, { iam: true }));
      else if (this.options.iamFallback === 'lock') {
        await this.sql(this.dialect.createUser(a, { locked: true }));
        warnings.push(
          'this server has no AWSAuthenticationPlugin: the IAM user was created locked (local mode)',
        );
      } else
        throw new ActionError(
          'the server has no AWSAuthenticationPlugin: enable IAM database authentication on the cluster',
          a,
        );
    }
    this.remember(a, 'user');
    await this.converge(a, 'user');
    return warnings;
  }

  /**
   * The secret of a password user, made (or restored) if need be; returns its metadata as found. An
   * existing secret is used only when it is this cluster's and no other managed account holds it:
   * never a secret someone else made (the guard has refused the master secret already).
   */
  private async ensureSecret(a: AccountId, secretName: string): Promise<SecretMeta | undefined> {
    const { target } = this;
    const now = this.deps.now?.() ?? new Date();
    const seedTags: Record<string, string> = this.options.seedSecrets
      ? {
          create_by_user_automation: 'true',
          creation_timestamp: now.toISOString().slice(0, 19).replace('T', ' '),
        }
      : {};
    const found = await this.deps.secrets.ensure({
      name: secretName,
      description: `Credentials for ${displayAccount(a)} on ${target.engine} cluster ${target.name} (managed by dbusers)`,
      masterSecretArn: target.masterSecretArn,
      tags: {
        'managed-by': 'dbusers',
        'dbusers:account': target.account,
        'dbusers:cluster': target.name,
        'dbusers:user': a.user,
        'dbusers:host': a.host,
        'dbusers:created-at': now.toISOString(),
        ...seedTags,
      },
    });
    if (!found) return found;
    const t = found.tags;
    const ours =
      t['managed-by'] === 'dbusers'
        ? t['dbusers:account'] === target.account && t['dbusers:cluster'] === target.name
        : t.create_by_user_automation === 'true';
    // Whether another account holds it, the guard has checked before any claim (guard.ts).
    if (!ours)
      throw new ActionError(
        `secret ${secretName} was not made by dbusers for this cluster; name another secret`,
        a,
      );
    return found;
  }

  /** The four steps of password.ts; a login is tested only where the executor can match the host. */
  private async setPassword(
    a: AccountId,
    secretName: string,
    database: string | undefined,
    exists: boolean,
  ): Promise<string[]> {
    const pending = await createPending(this.password, a, secretName, database);
    await setOnServer(this.password, a, pending.password, exists);
    const warnings: string[] = [];
    if (exists) {
      // Only a login the server matches to this very account tests its password.
      const shadow = a.host === '%' ? this.shadowing(a) : undefined;
      if (a.host !== '%')
        warnings.push(`login not tested: host '${a.host}' may not match where the executor connects from`);
      else if (shadow)
        warnings.push(
          `login not tested: the server may match ${displayAccount(shadow)} first from where the executor connects`,
        );
      else await testLogin(this.password, a, pending.password);
    }
    await promote(this.password, secretName);
    this.remember(a, 'user').auth = 'password';
    return warnings;
  }

  /**
   * Make the account hold exactly its `grants` and `roles` (the admin option on `adminRoles`, the
   * roles but `nonDefaultRoles` as default roles): add first, then revoke, so access never drops. On
   * MariaDB a table-level REVOKE also deletes the column grants of that privilege: those the account
   * keeps are granted again right after it.
   */
  private async converge(
    a: AccountId & {
      grants: readonly Grant[];
      roles: readonly string[];
      adminRoles?: readonly string[];
      nonDefaultRoles?: readonly string[];
    },
    kind: 'user' | 'role',
  ): Promise<void> {
    const { grants, roles, adminRoles = [] } = a;
    const current = this.remember(a, kind);
    const who = this.dialect.account(a, kind);
    const g = diffGrants(grants, current.grants);
    const r = diffNames(roles, current.roles);
    const admin = diffNames(adminRoles, current.adminRoles ?? []);
    for (const s of renderGrants(g.add, who)) await this.sql(s);
    for (const role of r.add) await this.sql(this.dialect.grantRole(role, who, adminRoles.includes(role)));
    for (const role of admin.add.filter((x) => !r.add.includes(x)))
      await this.sql(this.dialect.grantRole(role, who, true));
    const defaults = [...defaultRolesOf(a, this.dialect.multipleDefaultRoles)].sort();
    const d = diffNames(defaults, current.defaultRoles);
    if (kind === 'user' && this.dialect.supportsRoles && d.add.length + d.remove.length > 0) {
      for (const s of this.dialect.setDefaultRoles(who, defaults)) await this.sql(s);
    }
    for (const s of renderRevokes(g.remove, who)) await this.sql(s);
    if (this.dialect.tableRevokeDropsColumns)
      for (const s of renderGrants(columnsLostWith(g.remove, grants), who)) await this.sql(s);
    for (const role of r.remove) await this.sql(this.dialect.revokeRole(role, who));
    for (const role of admin.remove.filter((x) => roles.includes(x)))
      for (const s of this.dialect.revokeAdminOption(role, who)) await this.sql(s);
    current.grants = [...grants];
    current.roles = [...roles];
    current.adminRoles = [...adminRoles];
    current.defaultRoles = kind === 'user' ? defaults : [];
  }

  private async deleteUser(a: Extract<Action, { kind: 'delete_user' }>): Promise<string[]> {
    const warnings: string[] = [];
    const definer = `${a.user}@${a.host}`;
    const objects = await this.deps.db.query<{ kind: string; s: string; n: string }>(
      `SELECT 'view' AS kind, TABLE_SCHEMA AS s, TABLE_NAME AS n FROM information_schema.VIEWS WHERE DEFINER = ?
       UNION ALL SELECT 'routine', ROUTINE_SCHEMA, ROUTINE_NAME FROM information_schema.ROUTINES WHERE DEFINER = ?
       UNION ALL SELECT 'trigger', TRIGGER_SCHEMA, TRIGGER_NAME FROM information_schema.TRIGGERS WHERE DEFINER = ?
       UNION ALL SELECT 'event', EVENT_SCHEMA, EVENT_NAME FROM information_schema.EVENTS WHERE DEFINER = ?`,
      [definer, definer, definer, definer],
    );
    if (objects.length > 0) {
      const list = objects.map((o) => `${o.kind} ${o.s}.${o.n}`).join(', ');
      if (this.options.definers === 'refuse') {
        throw new ActionError(
          `refused: it is the DEFINER of ${list}; change their definer first (or run with definers: warn)`,
          a,
        );
      }
      warnings.push(
        `dropped while DEFINER of ${list}; those objects now fail until their definer is changed`,
      );
    }
    await this.sql(this.dialect.dropAccount(a, 'user'));
    this.accounts.delete(accountKey(a));
    if (a.secretName) await this.deps.secrets.scheduleDeletion(a.secretName, this.options.recoveryDays);
    await release(this.deps.db, a, ownerOf(this.target));
    return warnings;
  }
}

/** Column grants a table-level revoke of the same privilege deletes on MariaDB, among those to keep. */
function columnsLostWith(revoked: readonly Grant[], keep: readonly Grant[]): Grant[] {
  const tableLevel = revoked.filter((g) => g.level === 'table');
  return keep.filter(
    (g) =>
      g.level === 'column' &&
      tableLevel.some(
        (t) =>
          t.level === 'table' &&
          t.database === g.database &&
          t.table === g.table &&
          t.privilege === g.privilege,
      ),
  );
}
