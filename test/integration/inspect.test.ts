/** Inspection on a real MariaDB: the same number of queries whatever the number of accounts, and every grant level read. */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../reconciler/src/adapters/mysql/database.js';
import { mariadb } from '../../reconciler/src/dialect/mariadb.js';
import { FileSecretStore } from '../../reconciler/src/adapters/local/file-secret-store.js';
import { InspectError, inspect } from '../../reconciler/src/inspect/inspect.js';
import type { OwnershipRecord } from '../../reconciler/src/model/types.js';
import {
  REGISTRY_TABLE,
  SEAL_QUERY,
  SEAL_TABLE,
  ensureRegistry,
  registryMac,
  sealRegistry,
} from '../../reconciler/src/registry/registry.js';
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
    // The version, the registry's seal and its rows, the grant tables.
    expect(few).toBe(mariadb.inspectQueries([]).length + 3);
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

describe('the registry seal', () => {
  const owner = 'payments-prod/sealed';
  const row = (user: string) => ({ user, host: '%', kind: 'user' as const, owner });

  /** A registry holding `rows`, each with the MAC `macOf` gives it, and `seal` as its seal (or renewed). */
  async function registry(
    key: string,
    rows: OwnershipRecord[],
    {
      macOf = (r: OwnershipRecord) => registryMac(key, r),
      seal,
    }: { macOf?: (r: OwnershipRecord) => string; seal?: string } = {},
  ): Promise<void> {
    await ensureRegistry(admin);
    await admin.query(`DELETE FROM ${REGISTRY_TABLE}`);
    for (const r of rows)
      await admin.query(
        `INSERT INTO ${REGISTRY_TABLE} (user, host, kind, secret_name, owner, mac) VALUES (?, ?, ?, NULL, ?, ?)`,
        [r.user, r.host, r.kind, r.owner, macOf(r)],
      );
    if (seal === undefined) await sealRegistry(admin, key);
    else await admin.query(`REPLACE INTO ${SEAL_TABLE} (id, mac) VALUES (1, ?)`, [seal]);
  }

  /** A secret store of its own, its registry key made. */
  async function keyedStore() {
    const store = new FileSecretStore(tempDir());
    return { store, key: (await store.registryKey(true))! };
  }

  async function inspectWith(store: FileSecretStore) {
    const state = await inspect(admin, { cluster: 'main', engine: 'mariadb', secrets: store });
    return { owned: state.owned.map((o) => o.user), unverified: state.unverifiedClaims.map((a) => a.user) };
  }

  afterAll(() => registry('', [], { seal: '0'.repeat(64) }));

  it('vouches for every row at once: rows whose own MAC was spoiled since are owned while the seal matches', async () => {
    const { store, key } = await keyedStore();
    await registry(key, [row('sa'), row('sb')]);
    await admin.query(`UPDATE ${REGISTRY_TABLE} SET mac = ?`, ['f'.repeat(64)]);
    // The seal covers the rows' fields, not their own MACs: no row is checked on its own.
    expect(await inspectWith(store)).toEqual({ owned: ['sa', 'sb'], unverified: [] });
  });

  it('takes a seal of an older format as no seal: each row is checked on its own, a row added by hand is not owned', async () => {
    const { store, key } = await keyedStore();
    const rows = [row('sa'), row('sb')];
    // The format before the JSON of each column: each row's fields with their lengths before them.
    const older = createHmac('sha256', key)
      .update(
        rows.map((r) => `${r.user.length}:${r.user}1:%${r.kind}-${r.owner.length}:${r.owner}\n`).join(''),
      )
      .digest('hex');
    await registry(key, [...rows, row('sc')], {
      macOf: (r) => (r.user === 'sc' ? 'f'.repeat(64) : registryMac(key, r)),
      seal: older,
    });
    expect(await inspectWith(store)).toEqual({ owned: ['sa', 'sb'], unverified: ['sc'] });
  });

  it('does not let rows that trade owners stand for the sealed ones (each column holds the same values)', async () => {
    const { store, key } = await keyedStore();
    const other = 'payments-prod/other';
    await registry(key, [row('sa'), { ...row('sb'), owner: other }]);
    const [{ mac: seal }] = (await admin.query<{ mac: string }>(SEAL_QUERY)) as [{ mac: string }];
    await registry(key, [{ ...row('sa'), owner: other }, row('sb')], { macOf: () => 'f'.repeat(64), seal });
    expect(await inspectWith(store)).toEqual({ owned: [], unverified: ['sa', 'sb'] });
  });

  it('does not let one row whose name holds the text of two rows stand for them', async () => {
    const { store, key } = await keyedStore();
    await registry(key, [row('sa'), row('sb')]);
    const [{ mac: seal }] = (await admin.query<{ mac: string }>(SEAL_QUERY)) as [{ mac: string }];
    // Joined with bare separators, this one row would read exactly as the two sealed ones.
    const forged = row(`sa\u0000%\u0000user\u0000\u0000${owner}\nsb`);
    await registry(key, [forged], { macOf: () => 'f'.repeat(64), seal });
    expect(await inspectWith(store)).toEqual({ owned: [], unverified: [forged.user] });
  });
});
