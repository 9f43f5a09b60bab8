/**
 * A real MariaDB for every database test: a throwaway server in a temp folder on a free port, or
 * the server in DBUSERS_TEST_DATABASE_URL (which must be a throwaway: it is wiped before use).
 * There is no mocked database.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { expect } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedMariadb } from '../../reconciler/src/adapters/local/embedded-mariadb.js';
import { LocalDispatcher, LocalEnvironment } from '../../reconciler/src/adapters/local/local-dispatcher.js';
import { importYaml } from '../../reconciler/src/desired/import.js';
import { loadDesired } from '../../reconciler/src/desired/load.js';
import type { Action, Skipped } from '../../reconciler/src/model/types.js';
import type { PlanOptions } from '../../reconciler/src/plan/plan.js';
import { reconcile, type ReconcileResult } from '../../reconciler/src/reconcile.js';
import {
  connect,
  parseDatabaseUrl,
  type ConnectionSpec,
  type Database,
} from '../../reconciler/src/adapters/mysql/database.js';
import type { SourceRepo } from '../../reconciler/src/ports/index.js';
import { quoteAccount, quoteString } from '../../reconciler/src/sql/escape.js';

/** A server for one test file. */
export interface TestServer {
  url: string;
  spec: ConnectionSpec;
  admin(): Promise<Database>;
  stop(): Promise<void>;
}

/** A connect that keeps what the code under test sends: how many connections, and every statement. */
export function recordingConnect() {
  const sent = { connects: 0, statements: [] as string[] };
  return {
    sent,
    async connect(spec: ConnectionSpec): Promise<Database> {
      sent.connects++;
      const db = await connect(spec);
      return {
        query: (sql, values) => (sent.statements.push(sql), db.query(sql, values)),
        close: () => db.close(),
      };
    },
  };
}

/** A temp folder removed by the returned function. */
export function tempDir(prefix = 'dbusers-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * Start a throwaway server (or wipe the one named by DBUSERS_TEST_DATABASE_URL). A test that needs
 * server options (`serverArgs`, e.g. a binary log) always gets a server of its own.
 */
export async function startTestServer(serverArgs: readonly string[] = []): Promise<TestServer> {
  const given = process.env.DBUSERS_TEST_DATABASE_URL;
  if (given && serverArgs.length === 0) {
    const spec = parseDatabaseUrl(given);
    const db = await connect(spec);
    await db.query('DROP DATABASE IF EXISTS _dbusers');
    const accounts = await db.query<{ User: string; Host: string }>(
      "SELECT User, Host FROM mysql.global_priv WHERE User NOT IN ('root', 'mariadb.sys', 'PUBLIC', '') AND User <> SUBSTRING_INDEX(CURRENT_USER(), '@', 1)",
    );
    for (const a of accounts)
      await db
        .query(`DROP USER IF EXISTS ?@?`, [a.User, a.Host])
        .catch(() => db.query('DROP ROLE IF EXISTS ?', [a.User]));
    await db.close();
    return { url: given, spec, admin: () => connect(spec), stop: async () => undefined };
  }
  const dir = tempDir('dbusers-mariadb-');
  const server = await startEmbeddedMariadb(
    dir,
    serverArgs.map((a) => a.replace('{dir}', dir)),
  );
  const spec = parseDatabaseUrl(server.url);
  return {
    url: server.url,
    spec,
    admin: () => connect(spec),
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Log in as a user; the promise rejects when the login is refused. */
export function loginAs(server: TestServer, user: string, password: string): Promise<Database> {
  return connect({ ...server.spec, user, password });
}

/** Run a statement; true when allowed, false when the server denies it for lack of privilege. */
export async function allowed(db: Database, sql: string): Promise<boolean> {
  try {
    await db.query(sql);
    return true;
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    if (/DENIED|ER_TABLEACCESS|ER_COLUMNACCESS|ER_PROCACCESS/.test(code)) return false;
    throw error;
  }
}

/** For each statement in order, whether the login may run it; the login is closed after. */
export async function allowedEach(
  login: Promise<Database>,
  statements: readonly string[],
): Promise<boolean[]> {
  const db = await login;
  try {
    const out: boolean[] = [];
    for (const sql of statements) out.push(await allowed(db, sql));
    return out;
  } finally {
    await db.close();
  }
}

/** YAML files held in memory, as a SourceRepo. */
export class MemorySource implements SourceRepo {
  constructor(public files: Record<string, string>) {}
  async readTree(): Promise<Map<string, string>> {
    return new Map(Object.entries(this.files));
  }
}

/** One reconcile() in local mode on `env`, over YAML files held in memory (sync policy, no clock). */
export function reconcileLocally(
  env: LocalEnvironment,
  files: Record<string, string>,
  mode: 'plan' | 'apply',
  planOptions: Partial<PlanOptions> = {},
): Promise<ReconcileResult> {
  return reconcile(
    {
      source: new MemorySource(files),
      dispatcher: new LocalDispatcher(env),
      events: { publish: async () => undefined },
    },
    { mode, policy: 'sync', planOptions: { now: 0, ...planOptions } },
  );
}

/** Local mode on a test server, with a state folder (secret store) of its own. */
export function localEnvironment(server: TestServer): LocalEnvironment {
  return new LocalEnvironment({
    stateDir: join(tempDir(), 'state'),
    databaseUrl: server.url,
    log: () => undefined,
  });
}

/** What the RDS for MariaDB master holds on *.*, WITH GRANT OPTION (reference/mysql-mariadb.md §5.1). */
export const RDS_MARIADB_MASTER =
  'SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD, PROCESS, REFERENCES, INDEX, ALTER, SHOW DATABASES, CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, REPLICATION CLIENT, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, CREATE USER, EVENT, TRIGGER, REPLICATION SLAVE';

/**
 * Local mode on a test server, connecting as an account that holds exactly what the RDS for MariaDB
 * master holds: no SUPER, and no ADMIN OPTION on a role it did not make. What dbusers does here, it
 * may do on RDS. Made on '%' and on 'localhost', where an anonymous user would otherwise match first.
 */
export async function rdsMasterEnvironment(server: TestServer, admin: Database): Promise<LocalEnvironment> {
  for (const host of ['%', 'localhost']) {
    await admin.query(`CREATE USER 'rdsmaster'@'${host}' IDENTIFIED BY 'rds-master-pw'`);
    await admin.query(`GRANT ${RDS_MARIADB_MASTER} ON *.* TO 'rdsmaster'@'${host}' WITH GRANT OPTION`);
  }
  return new LocalEnvironment({
    stateDir: join(tempDir(), 'state'),
    databaseUrl: `mysql://rdsmaster:rds-master-pw@${server.spec.host}:${server.spec.port}`,
    log: () => undefined,
  });
}

/** A test server with a schema and the local-mode environment that reaches it; stop() ends all three. */
export interface RdsServer {
  server: TestServer;
  admin: Database;
  env: LocalEnvironment;
  stop(): Promise<void>;
}

/** A test server with a schema, reached as root in local mode. */
export function localServer(
  schema: readonly string[],
  serverArgs: readonly string[] = [],
): Promise<RdsServer> {
  return serverWith(schema, serverArgs, async (server) => localEnvironment(server));
}

/** A test server with a schema, reached as the RDS master would reach it. */
export function rdsServer(schema: readonly string[], serverArgs: readonly string[] = []): Promise<RdsServer> {
  return serverWith(schema, serverArgs, rdsMasterEnvironment);
}

async function serverWith(
  schema: readonly string[],
  serverArgs: readonly string[],
  reach: (server: TestServer, admin: Database) => Promise<LocalEnvironment>,
): Promise<RdsServer> {
  const server = await startTestServer(serverArgs);
  const admin = await server.admin();
  for (const sql of schema) await admin.query(sql);
  const env = await reach(server, admin);
  return {
    server,
    admin,
    env,
    async stop() {
      await env.close();
      await admin.close();
      await server.stop();
    },
  };
}

/**
 * A random test's step: `files` apply on `main` with no diagnostic and no failed action, and re-plan
 * empty. With `fresh`, a new server given only these files then shows the same grants and default
 * roles for `names`: no state before this one left a trace.
 */
export async function expectConverged(
  main: RdsServer,
  files: Record<string, string>,
  context: string,
  fresh?: { schema: readonly string[]; names: readonly string[] },
): Promise<void> {
  const applied = await reconcileLocally(main.env, files, 'apply', { allowDeletes: true });
  expect(applied.diagnostics, context).toEqual([]);
  expect(
    applied.results.filter((r) => !r.ok),
    context,
  ).toEqual([]);
  const replan = await reconcileLocally(main.env, files, 'plan', { allowDeletes: true });
  expect(
    replan.plans.flatMap((p) => p.actions),
    context,
  ).toEqual([]);
  if (!fresh) return;
  const other = await rdsServer(fresh.schema);
  try {
    const fromScratch = await reconcileLocally(other.env, files, 'apply', { allowDeletes: true });
    expect(
      fromScratch.results.filter((r) => !r.ok),
      context,
    ).toEqual([]);
    expect(await shownGrants(main.admin, fresh.names), context).toEqual(
      await shownGrants(other.admin, fresh.names),
    );
  } finally {
    await other.stop();
  }
}

/**
 * `import` of the server `main` reaches, round-tripped: the YAML validates, plans only adoptions
 * (what it leaves out, named in a comment, is left alone), applies, plans nothing, and every grant and
 * default role is as it was.
 */
export async function expectImportRoundTrip(
  main: Pick<RdsServer, 'env' | 'admin'>,
  clusterYaml: string,
  context: string,
): Promise<void> {
  const [target] = loadDesired(new Map([['users/legacy.yaml', clusterYaml]])).targets;
  const yaml = importYaml(target!.cluster, await new LocalDispatcher(main.env).inspect(target!.cluster, []));
  const files = { 'users/legacy.yaml': yaml };
  const where = `${context}\nimported:\n${yaml}`;
  const before = await shownGrants(main.admin);
  const planned = await reconcileLocally(main.env, files, 'plan');
  expect(planned.diagnostics, where).toEqual([]);
  const adoption = (a: Action) => (a.kind === 'create_user' || a.kind === 'create_role') && a.adopt;
  expect(
    planned.plans.flatMap((p) => p.actions).filter((a) => !adoption(a)),
    where,
  ).toEqual([]);
  const leftOut = (s: Skipped) => yaml.includes(`#   ${JSON.stringify(`${s.user}@${s.host}`)}: `);
  expect(
    planned.plans.flatMap((p) => p.skipped).filter((s) => s.reason !== 'protected' && !leftOut(s)),
    where,
  ).toEqual([]);
  const applied = await reconcileLocally(main.env, files, 'apply');
  expect(
    applied.results.flatMap((r) => r.results.filter((x) => x.status !== 'ok')),
    where,
  ).toEqual([]);
  expect(
    (await reconcileLocally(main.env, files, 'plan')).plans.flatMap((p) => p.actions),
    where,
  ).toEqual([]);
  expect(await shownGrants(main.admin), where).toEqual(before);
}

/** The databases and table the example users/payments-prod.yaml grants on, made on a test server. */
export async function createExampleSchema(db: Database): Promise<void> {
  for (const sql of [
    'CREATE DATABASE orders',
    'CREATE DATABASE audit',
    'CREATE TABLE orders.invoices (id INT)',
  ])
    await db.query(sql);
}

/**
 * Every grant and default role of the accounts of `users` (all but the built-in ones when not
 * given), as the server shows them once it has read the grant tables again: MariaDB 10.11 can list
 * a column twice after a table-level REVOKE (`SELECT (b, b)`), and after a REVOKE of that column
 * still shows it, though it denies it. Password hashes are left out (an adopted user gets a new
 * password; its rights must not change), and column lists sorted (SHOW GRANTS keeps the order they
 * were granted in).
 */
export async function shownGrants(db: Database, users?: readonly string[]): Promise<string[]> {
  await db.query('FLUSH PRIVILEGES');
  const which = users
    ? { where: `User IN (${users.map(() => '?').join(', ')})`, values: [...users] }
    : { where: "User NOT IN ('root', 'mariadb.sys', 'PUBLIC')", values: [] };
  const accounts = await db.query<{ User: string; Host: string; d: string | null }>(
    `SELECT User, Host, JSON_VALUE(Priv, '$.default_role') AS d FROM mysql.global_priv WHERE ${which.where}`,
    which.values,
  );
  const lines: string[] = [];
  for (const a of accounts) {
    const name = a.Host === '' ? quoteString(a.User) : quoteAccount(a.User, a.Host);
    lines.push(`${name} default role: ${a.d || 'none'}`);
    for (const row of await db.query(`SHOW GRANTS FOR ${name}`))
      lines.push(
        String(Object.values(row)[0])
          .replace(/ IDENTIFIED BY PASSWORD '[^']*'/, '')
          .replace(/\(([^)]*)\)/g, (_, c: string) => `(${c.split(', ').sort().join(', ')})`),
      );
  }
  return lines.sort();
}
