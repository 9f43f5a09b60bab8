/**
 * The credential paths on a real MariaDB, each a reproduction of something a careful user saw:
 * passwords in the server's logs, a host the server stores differently, a password changed by hand,
 * a second secret store, a temp file left by a crash, a hung run holding the cluster lock.
 */
import { readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSecretStore } from '../../reconciler/src/adapters/local/file-secret-store.js';
import { LocalEnvironment } from '../../reconciler/src/adapters/local/local-dispatcher.js';
import { connect, type Database } from '../../reconciler/src/adapters/mysql/database.js';
import { mariadb } from '../../reconciler/src/dialect/mariadb.js';
import { executeBatch, lockName } from '../../reconciler/src/execute/executor.js';
import { createPending, setOnServer } from '../../reconciler/src/execute/password.js';
import type { ExecutorBatch } from '../../reconciler/src/model/batch.js';
import { ordersCluster, select } from '../support/fixtures.js';
import { loginAs, reconcileLocally, startTestServer, tempDir, type TestServer } from '../support/server.js';

let server: TestServer;
let admin: Database;

function yaml(users: { name: string; host: string }[]): string {
  return `account: "111122223333"
alias: payments-prod
clusters:
  - { name: orders, region: eu-west-1, engine: mariadb, endpoint: orders.example.com, port: 3306, masterSecretArn: "arn:aws:secretsmanager:eu-west-1:111122223333:secret:orders-master", databases: [orders] }
users:
${users.map((u) => `  - { name: ${JSON.stringify(u.name)}, host: ${JSON.stringify(u.host)}, cluster: orders, grants: [{ database: orders, profile: readonly }] }`).join('\n')}
`;
}

/** A local run against the test server with its own state folder (its own secret store). */
function localRun(stateDir = join(tempDir(), 'state')) {
  const env = new LocalEnvironment({ stateDir, databaseUrl: server.url, log: () => undefined });
  const store = env.secretsFor('111122223333');
  const run = (files: Record<string, string>, mode: 'plan' | 'apply', resetRequested: string[] = []) =>
    reconcileLocally(env, files, mode, {
      now: Math.floor(Date.now() / 1000),
      allowDeletes: true,
      resetRequested,
    });
  return { env, store, run };
}

async function current(store: FileSecretStore, name: string): Promise<string> {
  return (await store.getValue(name, 'AWSCURRENT'))!.password;
}

beforeAll(async () => {
  // Every log the server keeps, to search for passwords in them.
  server = await startTestServer([
    '--log-bin={dir}/binlog',
    '--binlog-format=STATEMENT',
    '--server-id=1',
    '--general-log=1',
    '--general-log-file={dir}/general.log',
    '--slow-query-log=1',
    '--long-query-time=0',
    '--slow-query-log-file={dir}/slow.log',
  ]);
  admin = await server.admin();
  await admin.query('CREATE DATABASE orders');
  await admin.query('CREATE TABLE orders.t (id INT)');
});

afterAll(async () => {
  await admin?.close();
  await server?.stop();
});

describe('no clear-text password on the server side', () => {
  it('leaves no generated password in the general, slow or binary log after creates and resets', async () => {
    const { store, run, env } = localRun();
    const files = {
      'users/payments-prod.yaml': yaml([
        { name: 'logged_a', host: '%' },
        { name: 'logged_b', host: '%' },
      ]),
    };
    expect((await run(files, 'apply')).status).toBe('applied');
    expect((await run(files, 'apply', ['logged_a@%'])).status).toBe('applied');
    await env.close();
    const passwords = store.names().flatMap((n) => store.read(n)!.versions.map((v) => v.value.password));
    expect(passwords.length).toBeGreaterThanOrEqual(3);
    await admin.query('FLUSH LOGS');
    const dir = join(String((await admin.query<{ d: string }>('SELECT @@datadir AS d'))[0]!.d), '..');
    const logs = readdirSync(dir)
      .filter((f) => /^(general|slow)\.log$|^binlog\.\d+$/.test(f))
      .map((f) => join(dir, f));
    expect(logs.length).toBeGreaterThanOrEqual(3);
    const text = logs.map((f) => readFileSync(f).toString('latin1')).join('\n');
    expect(text).toContain('logged_a'); // the statements are there...
    for (const p of passwords) expect(text).not.toContain(p); // ...their passwords are not
  });
});

describe('hosts as the server stores them', () => {
  it('applies a mixed-case host once: the secret keeps matching the server, the next plan is empty', async () => {
    const { store, run, env } = localRun();
    const files = { 'users/payments-prod.yaml': yaml([{ name: 'corp', host: '%.Corp.Example.com' }]) };
    expect((await run(files, 'apply')).status).toBe('applied');
    const first = await current(store, 'rds-orders-corp-secret');
    expect((await run(files, 'plan')).status).toBe('in sync');
    expect((await run(files, 'apply')).status).toBe('in sync');
    expect(await current(store, 'rds-orders-corp-secret')).toBe(first);
    const [row] = await admin.query<{ h: string }>(
      "SELECT Host AS h FROM mysql.global_priv WHERE User = 'corp'",
    );
    expect(row!.h).toBe('%.corp.example.com');
    await env.close();
  });

  it('after apply, every password user of any host spelling logs in with its current secret, and the next plan is empty', async () => {
    const hosts = ['%', '127.0.0.1', '127.0.0.%', '127.%', 'localhost', 'LocalHost', '%.%.%.%'];
    const { store, run, env } = localRun();
    let round = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.constantFrom(...hosts), {
          minLength: 1,
          maxLength: 4,
          selector: (h) => h.toLowerCase(),
        }),
        async (picked) => {
          const users = picked.map((host, i) => ({ name: `p${round}_${i}`, host }));
          round++;
          const files = { 'users/payments-prod.yaml': yaml(users) };
          const applied = await run(files, 'apply');
          expect(applied.diagnostics).toEqual([]);
          for (const u of users) {
            const db = await loginAs(server, u.name, await current(store, `rds-orders-${u.name}-secret`));
            const [me] = await db.query<{ me: string }>('SELECT CURRENT_USER() AS me');
            expect(me!.me).toBe(`${u.name}@${u.host.toLowerCase()}`);
            await db.close();
          }
          expect((await run(files, 'plan')).status).toBe('in sync');
        },
      ),
      { numRuns: 8 },
    );
    await env.close();
  });
});

describe('a password only for an account the server holds under exactly that name', () => {
  it('fails the step, and keeps the password pending, when the server stores the account under another spelling', async () => {
    const store = new FileSecretStore(tempDir());
    await store.ensure({ name: 'spelled', description: 'd', tags: {} });
    const ctx = {
      db: admin,
      dialect: mariadb,
      secrets: store,
      target: ordersCluster,
      connectAs: () => Promise.reject(new Error('unused')),
    };
    const account = { user: 'spelled', host: 'Upper.Example.COM' }; // bypasses validation, as a bug upstream would
    const pending = await createPending(ctx, account, 'spelled');
    await expect(setOnServer(ctx, account, pending.password, false)).rejects.toThrow(
      /does not hold an account named exactly 'spelled'@'Upper.Example.COM'/,
    );
    expect(await store.getValue('spelled', 'AWSCURRENT')).toBeUndefined();
    expect((await store.getValue('spelled', 'AWSPENDING'))?.password).toBe(pending.password);
    await admin.query("DROP USER 'spelled'@'upper.example.com'");
  });
});

describe('password drift', () => {
  it('finds a password changed by hand and resets it into the secret', async () => {
    const { store, run, env } = localRun();
    const files = { 'users/payments-prod.yaml': yaml([{ name: 'drifty', host: '%' }]) };
    await run(files, 'apply');
    await admin.query("ALTER USER 'drifty'@'%' IDENTIFIED BY 'changed-by-hand'");
    const drift = await run(files, 'plan');
    expect(drift.status).toBe('changes');
    expect(drift.plans[0]!.actions).toEqual([
      expect.objectContaining({
        kind: 'reset_password',
        user: 'drifty',
        reason: expect.stringMatching(/not the secret's/),
      }),
    ]);
    expect((await run(files, 'apply')).status).toBe('applied');
    await (await loginAs(server, 'drifty', await current(store, 'rds-orders-drifty-secret'))).close();
    expect((await run(files, 'plan')).status).toBe('in sync');
    await env.close();
  });

  it('a second secret store pointed at the same server takes nothing over: its registry key does not sign the rows', async () => {
    const first = localRun();
    const files = { 'users/payments-prod.yaml': yaml([{ name: 'shared', host: '%' }]) };
    await first.run(files, 'apply');
    const password = await current(first.store, 'rds-orders-shared-secret');
    const second = localRun();
    const plan = await second.run(files, 'apply');
    expect(plan.plans[0]!.actions).toEqual([]);
    expect(plan.plans[0]!.skipped.find((s) => s.user === 'shared')).toMatchObject({
      reason: 'unverified ownership',
    });
    await (await loginAs(server, 'shared', password)).close();
    await first.env.close();
    await second.env.close();
  });
});

describe('robustness', () => {
  it('writes a secret whatever temp file a crash left, and removes stale ones', async () => {
    const dir = tempDir();
    const store = new FileSecretStore(dir);
    await store.ensure({ name: 'crashy', description: 'd', tags: {} });
    const leftover = join(dir, `crashy.json.${process.pid}.tmp`);
    writeFileSync(leftover, 'half a secret');
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(leftover, old, old);
    await store.putPending('crashy', {
      engine: 'mariadb',
      host: 'h',
      port: 3306,
      username: 'u',
      password: 'p1',
    });
    await store.promotePending('crashy');
    expect((await store.getValue('crashy', 'AWSCURRENT'))?.password).toBe('p1');
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(statSync(join(dir, 'crashy.json')).mode & 0o777).toBe(0o600);
  });

  it('releases the cluster lock of a hung run within its session timeout', async () => {
    const hungConnection = await server.admin();
    const store = new FileSecretStore(tempDir());
    const batch: ExecutorBatch = {
      target: ordersCluster,
      actions: [],
      options: { sessionTimeoutSeconds: 2 },
    };
    // A run that takes the lock and then never sends another statement, as a frozen process would.
    let locked = false;
    const hung: Database = {
      async query<T>(sql: string, values?: unknown[]): Promise<T[]> {
        if (locked) return new Promise(() => undefined);
        const rows = await hungConnection.query<T>(sql, values);
        locked = /GET_LOCK/.test(sql);
        return rows;
      },
      close: () => hungConnection.close(),
    };
    void executeBatch(batch, {
      db: hung,
      secrets: store,
      connectAs: () => Promise.reject(new Error('unused')),
    });
    while (!locked) await new Promise((r) => setTimeout(r, 20));
    const [held] = await admin.query<{ u: number | null }>('SELECT IS_USED_LOCK(?) AS u', [
      lockName(ordersCluster),
    ]);
    expect(held!.u).not.toBeNull();
    const started = Date.now();
    const other = await connect(server.spec);
    const result = await executeBatch(
      {
        ...batch,
        actions: [
          {
            kind: 'create_role',
            user: 'after_hang',
            host: '',
            adopt: false,
            grants: [select('orders')],
            roles: [],
            reason: 'missing',
          },
        ],
      },
      { db: other, secrets: store, connectAs: () => Promise.reject(new Error('unused')) },
    );
    await other.close();
    expect(result.ok).toBe(true);
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
