/** Read a whole server in a constant number of bulk queries: never one query per account. Never writes. */
import type { Database } from '../ports/database.js';
import { AccountIndex, passwordMatches, text, type Dialect, type InspectQuery } from '../dialect/common.js';
import { dialectForVersion } from '../dialect/index.js';
import { lowerCaseNames as inLowerCase, routineName } from '../model/grants.js';
import type { ActualAccount, ActualState, Engine, ObjectRef, OwnershipRecord } from '../model/types.js';
import type { RdsCredentials, SecretStore } from '../ports/index.js';
import { REGISTRY_QUERY, readRegistry, SEAL_QUERY } from '../registry/registry.js';

/** Raised when a server cannot be read. */
export class InspectError extends Error {
  override name = 'InspectError';
  constructor(
    message: string,
    readonly cluster: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * Version, connected account, IAM plugin, MariaDB's password validation plugins, the default
 * password lifetime, whether names are kept in lower case, whether the server is read-only, and the
 * privilege columns of `mysql.db` (they differ by engine and version), in one query.
 */
export const SERVER_QUERY = `SELECT VERSION() AS version, CURRENT_USER() AS current_user_name,
  @@GLOBAL.default_password_lifetime AS password_lifetime, @@lower_case_table_names AS lower_case_names,
  @@GLOBAL.read_only OR @@GLOBAL.innodb_read_only AS read_only,
  (SELECT COUNT(*) FROM information_schema.PLUGINS
    WHERE PLUGIN_NAME = 'AWSAuthenticationPlugin' AND PLUGIN_STATUS = 'ACTIVE') AS iam_plugin,
  (SELECT GROUP_CONCAT(PLUGIN_NAME) FROM information_schema.PLUGINS
    WHERE PLUGIN_TYPE = 'PASSWORD VALIDATION' AND PLUGIN_STATUS = 'ACTIVE') AS password_checks,
  (SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY ORDINAL_POSITION) FROM information_schema.COLUMNS
    WHERE TABLE_SCHEMA = 'mysql' AND TABLE_NAME = 'db' AND RIGHT(COLUMN_NAME, 5) = '_priv') AS db_columns`;

/**
 * The bulk queries for the server that answered SERVER_QUERY (its version picks the dialect, its
 * `mysql.db` columns the grant-table query), and their SQL in the order inspection sends it: the
 * registry's seal and rows first, so that they are checked while the server reads the grant tables.
 */
export function bulkQueries(server: Record<string, unknown> | undefined): BulkQueries {
  const dialect = dialectForVersion(String(server?.version ?? ''));
  const dbColumns = text(server?.db_columns).split(',').filter(Boolean);
  const queries = dialect.inspectQueries(dbColumns);
  return { dialect, dbColumns, queries, sql: [SEAL_QUERY, REGISTRY_QUERY, ...queries.map((q) => q.sql)] };
}

export interface BulkQueries {
  dialect: Dialect;
  dbColumns: string[];
  queries: InspectQuery[];
  sql: string[];
}

/**
 * Whether MariaDB refuses a password given as its hash: with a password validation plugin active and
 * strict_password_validation ON (its default), it does. Asked only where such a plugin is active.
 */
const STRICT_QUERY = 'SELECT @@GLOBAL.strict_password_validation AS strict';

/** Which engine a version string belongs to (Aurora reports a MySQL version). */
function engineOf(version: string, declared: Engine): Engine {
  if (/mariadb/i.test(version)) return 'mariadb';
  return declared === 'aurora-mysql' ? 'aurora-mysql' : 'mysql';
}

/** What to inspect, and with what. */
export interface InspectOptions {
  cluster: string;
  engine: Engine;
  /** The secret store: metadata of the named secrets, the registry key, and password drift checks. */
  secrets?: SecretStore;
  /** The registry key, when the caller holds it already (the executor, under its lock): not read again. */
  registryKey?: string;
  secretNames?: readonly string[];
  /** Users protected on every host besides the one connected as (the master secret's user). */
  adminUsers?: readonly string[];
  /** The executor makes IAM users locked where the server has no IAM plugin (local mode): the plan may create them. */
  iamStandIn?: boolean;
  /** Tables and routines the declarations name: those missing are reported in `missingObjects`. */
  objects?: readonly ObjectRef[];
  /** How to name the server in every output (`host:port`, `embedded MariaDB in …`). */
  server?: string;
  /** Compare owned users' passwords with their secrets (default true; the executor's batches skip it). */
  checkPasswords?: boolean;
}

/**
 * Inspect one server: accounts, grants, roles, default roles and the ownership registry (rows whose
 * signature verifies), plus the metadata (never the values) of the named secrets, and for each
 * owned password user whether the server holds its secret's current password.
 */
export async function inspect(db: Database, options: InspectOptions): Promise<ActualState> {
  const stage = async <T>(what: string, work: Promise<T>): Promise<T> => {
    try {
      return await work;
    } catch (cause) {
      throw new InspectError(
        `inspect ${options.cluster}: ${what}: ${(cause as Error).message}`,
        options.cluster,
        { cause },
      );
    }
  };
  const { secrets } = options;
  // The registry key (a Secrets Manager call on AWS) is fetched while the server is read.
  const keyRead = ahead(
    options.registryKey !== undefined || !secrets
      ? Promise.resolve(options.registryKey)
      : secrets.registryKey(false),
  );
  const [server] = await stage('server version', db.query(SERVER_QUERY));
  const version = String(server?.version ?? '');
  const { dialect, queries, sql } = bulkQueries(server);
  const index = new AccountIndex();
  const take = inOrder(db, sql);
  // An unreadable registry means "not ours", never a crash: nothing is changed or deleted then.
  const sealRows = await take().catch(() => []);
  const registryRows = await take().catch(() => []);
  // Checked as soon as the key is here, while the server reads the grant tables.
  const ownership = ahead(
    stage('read the registry key', keyRead).then((key) =>
      readRegistry(registryRows, key, key ? sealRows[0]?.mac : undefined),
    ),
  );
  for (const q of queries)
    await stage(
      `read ${q.name}`,
      take().then((rows) => q.read(rows, index)),
    );
  const { owned, unverified } = await ownership;
  const current = String(server?.current_user_name ?? '');
  const at = current.lastIndexOf('@');
  const currentUser = { user: current.slice(0, at), host: current.slice(at + 1) };
  const metas = secrets ? await stage('read secrets', readSecrets(secrets, index, owned, options)) : {};
  const lowerCaseNames = Number(server?.lower_case_names) === 1;
  const missingObjects = options.objects?.length
    ? await stage('look up tables and routines', missing(db, options.objects!, lowerCaseNames))
    : undefined;
  const checks = dialect.name === 'mariadb' ? text(server?.password_checks) : '';
  const strict = checks
    ? Number((await stage('read strict_password_validation', db.query(STRICT_QUERY)))[0]?.strict) === 1
    : false;
  return {
    ...(options.server ? { server: options.server } : {}),
    engine: engineOf(version, options.engine),
    version,
    currentUser,
    adminUsers: [...new Set([currentUser.user, ...(options.adminUsers ?? [])])],
    supportsRoles: dialect.supportsRoles,
    roleHost: dialect.roleHost,
    multipleDefaultRoles: dialect.multipleDefaultRoles,
    supportsIamAuth: Number(server?.iam_plugin ?? 0) > 0,
    ...(options.iamStandIn ? { iamStandIn: true } : {}),
    ...(strict ? { passwordHashRefusedBy: checks } : {}),
    ...(lowerCaseNames ? { lowerCaseNames: true } : {}),
    ...(Number(server?.read_only) === 1 ? { readOnly: true } : {}),
    ...(Number(server?.password_lifetime) > 0
      ? { defaultPasswordLifetime: Number(server!.password_lifetime) }
      : {}),
    accounts: index.all(),
    owned,
    unverifiedClaims: unverified,
    secrets: metas,
    ...(missingObjects ? { missingObjects } : {}),
  };
}

/**
 * Send `sql` in order, each query before the rows of the one before it are taken: the server works
 * while this process reads, and at most two results are held at once.
 */
export function inOrder(db: Database, sql: readonly string[]): () => Promise<Record<string, unknown>[]> {
  let sent = 0;
  let next = ahead(db.query(sql[sent++]!));
  return () => {
    const current = next;
    if (sent < sql.length) next = ahead(db.query(sql[sent++]!));
    return current;
  };
}

/** A promise awaited later: its failure is taken up there, not reported as unhandled before its turn. */
function ahead<T>(work: Promise<T>): Promise<T> {
  work.catch(() => undefined);
  return work;
}

/**
 * The named tables, columns and routines the server does not have: two queries, three when a grant
 * names columns, whatever their number.
 */
async function missing(
  db: Database,
  named: readonly ObjectRef[],
  lowerCaseNames: boolean,
): Promise<ObjectRef[]> {
  // Named as the server keeps them, and as the plan names them: in lower case where the server does.
  const objects = lowerCaseNames ? named.map(inLowerCase) : named;
  const have = new Set<string>();
  const inSchemas = (refs: readonly ObjectRef[]) => {
    const schemas = [...new Set(refs.map((o) => o.database))];
    return { where: `IN (${schemas.map(() => '?').join(', ')})`, schemas };
  };
  const all = inSchemas(objects);
  for (const r of await db.query<{ s: string; n: string }>(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA ${all.where}`,
    all.schemas,
  ))
    have.add(objectKey({ database: r.s, table: r.n }));
  for (const r of await db.query<{ s: string; n: string; t: 'PROCEDURE' | 'FUNCTION' }>(
    `SELECT ROUTINE_SCHEMA AS s, ROUTINE_NAME AS n, ROUTINE_TYPE AS t FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA ${all.where}`,
    all.schemas,
  ))
    have.add(objectKey({ database: r.s, routine: r.n, routineType: r.t }));
  const columns = objects.filter((o) => 'column' in o && o.column !== undefined);
  if (columns.length > 0) {
    const some = inSchemas(columns);
    for (const r of await db.query<{ s: string; n: string; c: string }>(
      `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n, COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA ${some.where}`,
      some.schemas,
    ))
      have.add(objectKey({ database: r.s, table: r.n, column: r.c }));
  }
  return objects.filter((o) => !have.has(objectKey(o)));
}

/**
 * An object as the server finds it: routines and columns in any case, databases and tables as
 * written (on Linux; in lower case under lower_case_table_names, which missing() applies first).
 */
function objectKey(o: ObjectRef): string {
  if ('routine' in o) return `${o.routineType}\0${o.database}\0${routineName(o.routine)}`;
  return `${o.database}\0${o.table}\0${o.column?.toLowerCase() ?? ''}`;
}

/**
 * The metadata of the named secrets and of those the registry names, and (unless told not to) each
 * owned password user's match with its secret's AWSCURRENT: one `readMany`.
 */
async function readSecrets(
  secrets: SecretStore,
  index: AccountIndex,
  owned: readonly OwnershipRecord[],
  options: InspectOptions,
): Promise<ActualState['secrets']> {
  const named = new Set(options.secretNames);
  for (const o of owned) if (o.secretName) named.add(o.secretName);
  const checks = options.checkPasswords !== false ? passwordChecks(index, owned) : [];
  if (named.size + checks.length === 0) return {};
  const { metas, values } = await secrets.readMany(
    [...named],
    checks.map((c) => c.secretName),
  );
  comparePasswords(checks, values);
  return metas;
}

/** An owned password user whose stored hash is compared with its secret's AWSCURRENT. */
interface PasswordCheck {
  account: ActualAccount;
  stored: string;
  secretName: string;
}

/** Password drift: the owned password users the server holds a hash for. */
function passwordChecks(index: AccountIndex, owned: readonly OwnershipRecord[]): PasswordCheck[] {
  const checks: PasswordCheck[] = [];
  for (const o of owned) {
    const found = o.secretName && o.kind === 'user' ? index.withHash(o.user, o.host) : undefined;
    if (found?.account.auth === 'password' && found.authString)
      checks.push({ account: found.account, stored: found.authString, secretName: o.secretName! });
  }
  return checks;
}

/**
 * Compare each server hash with the hash of its secret's AWSCURRENT, here where the secret lives
 * (neither leaves the executor).
 */
function comparePasswords(checks: readonly PasswordCheck[], values: Record<string, RdsCredentials>): void {
  for (const { account, stored, secretName } of checks) {
    const value = values[secretName];
    if (!value) continue;
    const matches =
      value.username === account.user ? passwordMatches(account.plugin, stored, value.password) : false;
    if (matches !== undefined) account.passwordMatchesSecret = matches;
  }
}
