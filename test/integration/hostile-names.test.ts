import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalEnvironment } from '../../reconciler/src/adapters/local/local-dispatcher.js';
import type { Database } from '../../reconciler/src/adapters/mysql/database.js';
import { dialectForVersion } from '../../reconciler/src/dialect/index.js';
import { mariadb } from '../../reconciler/src/dialect/mariadb.js';
import { quoteIdent, quoteString } from '../../reconciler/src/sql/escape.js';
import { allowed, loginAs, reconcileLocally, localServer, type TestServer } from '../support/server.js';

let server: TestServer;
let admin: Database;
let env: LocalEnvironment;
let stop: () => Promise<void>;

const HOSTILE = [
  "o'brien",
  'back`tick',
  'back\\slash',
  'per%cent',
  'under_score',
  'ünïcødé-名前',
  "x'; DROP USER root; --",
];
const DATABASES = ['app_db', "we'ird`db", 'back\\db'];

function yaml(users: { name: string; secretName: string; database: string }[]): string {
  return (
    [
      'account: "333344445555"',
      'alias: hostile',
      'clusters:',
      '  - { name: main, region: eu-west-1, engine: mariadb, endpoint: db.example.com, port: 3306, masterSecretArn: "arn:aws:secretsmanager:eu-west-1:333344445555:secret:m" }',
      `    databases: ${JSON.stringify(DATABASES)}`,
    ]
      .join('\n')
      .replace('" }\n    databases', '", databases')
      .replace(/\}$/, '') +
    ` }\nusers:\n${users
      .map(
        (u) =>
          `  - name: ${JSON.stringify(u.name)}\n    cluster: main\n    secretName: ${u.secretName}\n    grants: [{ database: ${JSON.stringify(u.database)}, profile: readonly }]`,
      )
      .join('\n')}\n`
  );
}

function sync(files: Record<string, string>, mode: 'plan' | 'apply') {
  return reconcileLocally(env, files, mode, { allowDeletes: true });
}

beforeAll(async () => {
  ({ server, admin, env, stop } = await localServer(
    [...DATABASES, 'appxdb'].flatMap((db) => [
      `CREATE DATABASE ${quoteIdent(db)}`,
      `CREATE TABLE ${quoteIdent(db)}.t (id INT)`,
    ]),
  ));
});

afterAll(async () => {
  await stop?.();
});

describe('hostile names', () => {
  const users = HOSTILE.map((name, i) => ({
    name,
    secretName: `hostile-${i}`,
    database: DATABASES[i % DATABASES.length]!,
  }));
  const files = { 'users/hostile.yaml': yaml(users) };

  it('validates, applies, and then plans no changes', async () => {
    const first = await sync(files, 'apply');
    expect(first.diagnostics).toEqual([]);
    expect(first.status).toBe('applied');
    const again = await sync(files, 'plan');
    expect(again.status).toBe('in sync');
  });

  it('stores every name exactly as declared', async () => {
    const rows = await admin.query<{ User: string }>("SELECT User FROM mysql.global_priv WHERE Host = '%'");
    expect(rows.map((r) => r.User)).toEqual(expect.arrayContaining(HOSTILE));
    const [root] = await admin.query<{ n: number }>(
      "SELECT COUNT(*) AS n FROM mysql.global_priv WHERE User = 'root'",
    );
    expect(Number(root?.n)).toBeGreaterThan(0);
  });

  it('lets each user log in and read only its own database, never a look-alike', async () => {
    for (const u of users) {
      const secret = await env.secretsFor('333344445555').getValue(u.secretName, 'AWSCURRENT');
      const db = await loginAs(server, u.name, secret!.password);
      const id = '`' + u.database.replace(/`/g, '``') + '`';
      expect(await allowed(db, `SELECT * FROM ${id}.t`)).toBe(true);
      expect(await allowed(db, `INSERT INTO ${id}.t VALUES (1)`)).toBe(false);
      if (u.database === 'app_db') expect(await allowed(db, 'SELECT * FROM appxdb.t')).toBe(false);
      await db.close();
    }
  });

  it('refuses as role names exactly what the server refuses: NONE and PUBLIC in any case', async () => {
    for (const name of mariadb.reservedRoleNames.flatMap((n) => [n, n.toLowerCase()]))
      await expect(admin.query(`CREATE ROLE ${quoteString(name)}`)).rejects.toThrow(
        /Invalid role specification/,
      );
    // Names that only look reserved are roles like any other.
    for (const name of ['nonexistent', 'publicity', 'none_'])
      await admin.query(`CREATE ROLE ${quoteString(name)}`);
    expect(
      await admin.query(
        "SELECT User FROM mysql.global_priv WHERE User IN ('nonexistent', 'publicity', 'none_')",
      ),
    ).toHaveLength(3);
  });

  it('offers SHOW CREATE ROUTINE exactly where the server grants it (MariaDB 11.3 on)', async () => {
    const [{ version }] = (await admin.query('SELECT VERSION() AS version')) as [{ version: string }];
    await admin.query("CREATE USER 'scr_probe'@'%'");
    const grant = admin.query("GRANT SHOW CREATE ROUTINE ON app_db.* TO 'scr_probe'@'%'");
    if (dialectForVersion(version).privileges.database.includes('SHOW CREATE ROUTINE')) await grant;
    else await expect(grant).rejects.toThrow(/syntax/);
    await admin.query("DROP USER 'scr_probe'@'%'");
  });

  it('round-trips any printable name through apply and inspect', async () => {
    const nameArb = fc.string({
      unit: fc.constantFrom("'", '`', '\\', '%', '_', 'a', 'Z', 'é', '名', ' ', '"', ';'),
      minLength: 1,
      maxLength: 12,
    });
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(nameArb, { minLength: 1, maxLength: 3 }), async (names) => {
        // One secret per name, whatever its place in the list: a password is never moved to another secret.
        const declared = names.map((name) => ({
          name,
          secretName: `prop-${createHash('sha256').update(name).digest('hex').slice(0, 16)}`,
          database: 'app_db',
        }));
        const f = { 'users/hostile.yaml': yaml(declared) };
        const applied = await sync(f, 'apply');
        if (names.some((n) => n.endsWith(' ') || (n.length >= 2 && n.startsWith("'") && n.endsWith("'")))) {
          // Refused: the server drops a trailing space, and strips surrounding quotes at login.
          expect(applied.status).toBe('invalid');
          expect(applied.diagnostics.every((d) => ['SCHEMA', 'UNUSABLE_NAME'].includes(d.code))).toBe(true);
          return;
        }
        expect(applied.diagnostics).toEqual([]);
        expect(['applied', 'in sync'], JSON.stringify(applied.results)).toContain(applied.status);
        expect((await sync(f, 'plan')).status).toBe('in sync');
      }),
      { numRuns: 25 },
    );
  });
});
