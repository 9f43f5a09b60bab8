/** Inspection on a real MariaDB: the same number of queries whatever the number of accounts, and every grant level read. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../reconciler/src/adapters/mysql/database.js';
import { mariadb } from '../../reconciler/src/dialect/mariadb.js';
import { FileSecretStore } from '../../reconciler/src/adapters/local/file-secret-store.js';
import { InspectError, inspect } from '../../reconciler/src/inspect/inspect.js';
import { loginAs, startTestServer, tempDir, type TestServer } from '../support/server.js';

let server: TestServer;
let admin: Database;

/** The admin connection, counting the statements sent through it. */
function counting(db: Database): Database & { count: number } {
  const counted = {
    count: 0,
    close: () => db.close(),
    query: ((sql: string, values?: unknown[]) => {
      counted.count++;
      return db.query(sql, values);
    }) as Database['query'],
  };
  return counted;
}

beforeAll(async () => {
  server = await startTestServer();
  admin = await server.admin();
  for (const sql of [
    'CREATE DATABASE app',
    'CREATE TABLE app.t (id INT, secret INT)',
    'CREATE PROCEDURE app.p() BEGIN END',
    'CREATE ROLE reader',
    'GRANT SELECT ON app.* TO reader',
    "CREATE USER 'every'@'%' IDENTIFIED BY 'x'",
    "GRANT PROCESS ON *.* TO 'every'@'%'",
    "GRANT INSERT ON `app\\_x`.* TO 'every'@'%'",
    "GRANT SELECT ON `app_%`.* TO 'every'@'%'",
    "GRANT DELETE ON app.t TO 'every'@'%' WITH GRANT OPTION",
    "GRANT UPDATE (secret) ON app.t TO 'every'@'%'",
    "GRANT EXECUTE ON PROCEDURE app.p TO 'every'@'%'",
    "GRANT reader TO 'every'@'%'",
    "SET DEFAULT ROLE reader FOR 'every'@'%'",
  ])
    await admin.query(sql);
});

afterAll(async () => {
  await admin?.close();
  await server?.stop();
});

describe('inspect', () => {
  it("reads root's 64-bit privilege mask exactly (the driver would round the JSON number: PROCESS + SHUTDOWN)", async () => {
    const state = await inspect(admin, { cluster: 'c', engine: 'mariadb' });
    const root = state.accounts.find((a) => a.user === 'root' && a.host === 'localhost')!;
    expect(root.grants).toHaveLength(39);
    expect(root.grants).toContainEqual({ level: 'global', privilege: 'SUPER' });
    expect(root.grants).toContainEqual({ level: 'global', privilege: 'SLAVE MONITOR' });
  });

  it('reads every level of grant, roles and default roles into one model', async () => {
    const state = await inspect(admin, { cluster: 'main', engine: 'mariadb' });
    const every = state.accounts.find((a) => a.user === 'every')!;
    expect(every.grants).toEqual(
      expect.arrayContaining([
        { level: 'global', privilege: 'PROCESS' },
        { level: 'database', database: 'app_x', privilege: 'INSERT' },
        { level: 'database', database: 'app_%', pattern: 'app_%', privilege: 'SELECT' },
        { level: 'table', database: 'app', table: 't', privilege: 'DELETE' },
        { level: 'table', database: 'app', table: 't', privilege: 'GRANT OPTION' },
        { level: 'column', database: 'app', table: 't', column: 'secret', privilege: 'UPDATE' },
        { level: 'routine', database: 'app', routine: 'p', routineType: 'PROCEDURE', privilege: 'EXECUTE' },
      ]),
    );
    expect(every.grants).toHaveLength(7);
    expect(every).toMatchObject({
      roles: ['reader'],
      defaultRoles: ['reader'],
      auth: 'password',
      kind: 'user',
    });
    expect(state.accounts.find((a) => a.user === 'reader')).toMatchObject({
      kind: 'role',
      host: '',
      grants: [{ level: 'database', database: 'app', privilege: 'SELECT' }],
    });
    expect(state.currentUser).toEqual({ user: 'root', host: 'localhost' });
  });

  it('sends the same number of queries for 10 accounts and for 200', async () => {
    const db = counting(admin);
    await inspect(db, { cluster: 'main', engine: 'mariadb' });
    const few = db.count;
    for (let i = 0; i < 200; i++) await admin.query(`CREATE USER 'bulk${i}'@'%' IDENTIFIED BY 'x'`);
    db.count = 0;
    const state = await inspect(db, { cluster: 'main', engine: 'mariadb' });
    expect(state.accounts.length).toBeGreaterThan(200);
    expect(db.count).toBe(few);
    // The version, the grant tables, the registry's seal and its rows.
    expect(few).toBe(mariadb.inspectQueries.length + 3);
  });

  it('names the grant table a login cannot read, the next query already sent', async () => {
    await admin.query("CREATE USER 'peek'@'%' IDENTIFIED BY 'peek-pw'");
    await admin.query("GRANT SELECT ON mysql.global_priv TO 'peek'@'%'");
    const peek = await loginAs(server, 'peek', 'peek-pw');
    try {
      const failed = await inspect(peek, { cluster: 'main', engine: 'mariadb' }).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(InspectError);
      expect((failed as InspectError).message).toMatch(
        /^inspect main: read db: SELECT command denied to user 'peek'@'localhost' for table [`'"]?mysql[`'"]?\.[`'"]?db/,
      );
    } finally {
      await peek.close();
    }
  });

  it('reports a registry key it cannot read, though the key is fetched while the server is read', async () => {
    const dir = tempDir();
    class Unreadable extends FileSecretStore {
      override async registryKey(): Promise<string | undefined> {
        throw new Error('AccessDeniedException: not authorized to perform secretsmanager:GetSecretValue');
      }
    }
    const failed = await inspect(admin, {
      cluster: 'main',
      engine: 'mariadb',
      secrets: new Unreadable(dir),
    }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(InspectError);
    expect((failed as InspectError).message).toBe(
      'inspect main: read the registry key: AccessDeniedException: not authorized to perform secretsmanager:GetSecretValue',
    );
  });
});
