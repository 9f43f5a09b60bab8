/**
 * The executor on a real MariaDB with the local secret store: every action kind, redelivery,
 * crashes between the steps of a reset, a killed connection, two applies at once, DEFINER checks
 * and the failure bound. Users log in with the passwords their secrets hold.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSecretStore } from '../../reconciler/src/adapters/local/file-secret-store.js';
import { connect, type Database } from '../../reconciler/src/adapters/mysql/database.js';
import type { ExecutorBatch } from '../../reconciler/src/model/batch.js';
import { executeBatch, type ExecutorDeps } from '../../reconciler/src/execute/executor.js';
import { inspect } from '../../reconciler/src/inspect/inspect.js';
import type { Action, DesiredAccount } from '../../reconciler/src/model/types.js';
import { plan } from '../../reconciler/src/plan/plan.js';
import type { SecretStore } from '../../reconciler/src/ports/index.js';
import { ordersCluster, select, insert } from '../support/fixtures.js';
import { allowed, loginAs, startTestServer, tempDir, type TestServer } from '../support/server.js';

let server: TestServer;
let admin: Database;
let store: FileSecretStore;
const cluster = { ...ordersCluster, databases: ['orders', 'audit'] };

function depsFor(
  db: Database,
  secrets: SecretStore = store,
  progress?: ExecutorDeps['progress'],
): ExecutorDeps {
  return {
    db,
    secrets,
    connectAs: (user, password) => connect({ ...server.spec, user, password }),
    progress,
  };
}

async function run(actions: Action[], secrets: SecretStore = store, options: ExecutorBatch['options'] = {}) {
  const db = await server.admin();
  try {
    return await executeBatch({ target: cluster, actions, options }, depsFor(db, secrets));
  } finally {
    await db.close();
  }
}

const createUser = (
  user: string,
  grants = [select('orders')],
  extra: Partial<Extract<Action, { kind: 'create_user' }>> = {},
): Action => ({
  kind: 'create_user',
  user,
  host: '%',
  auth: 'password',
  adopt: false,
  secretName: `rds-orders-${user}-secret`,
  grants,
  roles: [],
  reason: 'missing',
  ...extra,
});

async function password(user: string, stage: 'AWSCURRENT' | 'AWSPENDING' = 'AWSCURRENT'): Promise<string> {
  const v = await store.getValue(`rds-orders-${user}-secret`, stage);
  if (!v) throw new Error(`no ${stage} for ${user}`);
  return v.password;
}

async function canLogin(user: string, pw: string): Promise<boolean> {
  try {
    await (await loginAs(server, user, pw)).close();
    return true;
  } catch {
    return false;
  }
}

/** A secret store that fails one chosen step, as a crash there would leave things. */
function failingAt(step: 'putPending' | 'promotePending' | 'ensure'): SecretStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop !== step) return typeof value === 'function' ? value.bind(target) : value;
      return async (...args: unknown[]) => {
        if (step === 'putPending') await (value as (...a: unknown[]) => Promise<void>).apply(target, args);
        throw new Error(`simulated crash at ${step}`);
      };
    },
  });
}

beforeAll(async () => {
  server = await startTestServer();
  admin = await server.admin();
  for (const sql of [
    'CREATE DATABASE orders',
    'CREATE DATABASE audit',
    'CREATE TABLE orders.t (id INT)',
    'CREATE TABLE audit.t (id INT)',
  ])
    await admin.query(sql);
  store = new FileSecretStore(join(tempDir(), 'secrets'));
});

afterAll(async () => {
  await admin?.close();
  await server?.stop();
});

describe('executeBatch', () => {
  it('runs every action kind and reports each, with no password anywhere in the result', async () => {
    const lines: string[] = [];
    const db = await server.admin();
    const result = await executeBatch(
      {
        target: cluster,
        actions: [
          {
            kind: 'create_role',
            user: 'auditor',
            host: '',
            adopt: false,
            grants: [select('audit')],
            roles: [],
            reason: 'missing',
          },
          createUser('ann', [select('orders')], { roles: ['auditor'] }),
          createUser('ben'),
          {
            kind: 'update_grant',
            user: 'ann',
            host: '%',
            accountKind: 'user',
            grants: [insert('orders'), select('orders')],
            roles: ['auditor'],
            before: { grants: [select('orders')], roles: ['auditor'] },
            reason: 'grants differ',
          },
          {
            kind: 'reset_password',
            user: 'ben',
            host: '%',
            secretName: 'rds-orders-ben-secret',
            reason: 'reset requested',
          },
          {
            kind: 'delete_user',
            user: 'ben',
            host: '%',
            secretName: 'rds-orders-ben-secret',
            reason: 'not declared',
          },
          { kind: 'drop_role', user: 'auditor', host: '', reason: 'not declared' },
        ],
      },
      depsFor(db, store, (r) => lines.push(JSON.stringify(r))),
    );
    await db.close();
    expect(result.results.map((r) => `${r.status} ${r.kind}`)).toEqual([
      'ok create_role',
      'ok create_user',
      'ok create_user',
      'ok update_grant',
      'ok reset_password',
      'ok delete_user',
      'ok drop_role',
    ]);
    expect(result.ok).toBe(true);
    const ann = await loginAs(server, 'ann', await password('ann'));
    expect(await allowed(ann, 'INSERT INTO orders.t VALUES (1)')).toBe(true);
    expect(await allowed(ann, 'SELECT * FROM audit.t')).toBe(false); // the role was dropped
    await ann.close();
    expect(store.read('rds-orders-ben-secret')?.deletedAt).toBeDefined();
    const everything = JSON.stringify(result) + lines.join('\n');
    for (const secret of store.names()) {
      for (const v of store.read(secret)!.versions) expect(everything).not.toContain(v.value.password);
    }
  });

  it('runs a redelivered batch without doing anything twice', async () => {
    const batch = [createUser('cid')];
    await run(batch);
    const first = await password('cid');
    const versions = store.read('rds-orders-cid-secret')!.versions.map((v) => v.id);
    const again = await run(batch);
    expect(again.ok).toBe(true);
    expect(await password('cid')).toBe(first);
    expect(store.read('rds-orders-cid-secret')!.versions.map((v) => v.id)).toEqual(versions);
    expect(await canLogin('cid', first)).toBe(true);
  });

  it('repairs a reset that crashed after the server changed, and never loses the password', async () => {
    await run([createUser('dan')]);
    const old = await password('dan');
    const crashed = await run(
      [
        {
          kind: 'reset_password',
          user: 'dan',
          host: '%',
          secretName: 'rds-orders-dan-secret',
          reason: 'reset requested',
        },
      ],
      failingAt('promotePending'),
    );
    expect(crashed.ok).toBe(false);
    const pending = await password('dan', 'AWSPENDING');
    expect(await canLogin('dan', old)).toBe(false);
    expect(await canLogin('dan', pending)).toBe(true); // the pending version holds the live password
    const actual = await inspect(admin, {
      cluster: 'orders',
      engine: 'mariadb',
      secrets: store,
      secretNames: ['rds-orders-dan-secret'],
    });
    const dan: DesiredAccount = {
      kind: 'user',
      user: 'dan',
      host: '%',
      cluster: 'orders',
      auth: 'password',
      grants: [select('orders')],
      roles: [],
      adopt: false,
      secretName: 'rds-orders-dan-secret',
      iamPrincipals: [],
      source: 'test',
    };
    const repair = plan({ cluster, accounts: [dan] }, actual, { now: 0 });
    expect(repair.actions).toEqual([
      expect.objectContaining({
        kind: 'reset_password',
        reason: 'finish an interrupted reset (pending secret version)',
      }),
    ]);
    expect((await run(repair.actions)).ok).toBe(true);
    expect(await password('dan')).toBe(pending);
    expect(await canLogin('dan', pending)).toBe(true);
  });

  it('repairs a reset that crashed before the server changed', async () => {
    await run([createUser('eve')]);
    const old = await password('eve');
    const crashed = await run(
      [
        {
          kind: 'reset_password',
          user: 'eve',
          host: '%',
          secretName: 'rds-orders-eve-secret',
          reason: 'reset requested',
        },
      ],
      failingAt('putPending'),
    );
    expect(crashed.ok).toBe(false);
    expect(await canLogin('eve', old)).toBe(true); // the current version still holds the live password
    const pending = await password('eve', 'AWSPENDING');
    expect(
      (
        await run([
          {
            kind: 'reset_password',
            user: 'eve',
            host: '%',
            secretName: 'rds-orders-eve-secret',
            reason: 'finish',
          },
        ])
      ).ok,
    ).toBe(true);
    expect(await password('eve')).toBe(pending);
    expect(await canLogin('eve', pending)).toBe(true);
  });

  it('never leaves a user without a secret when the secret store fails before creation', async () => {
    const failed = await run([createUser('fay')], failingAt('ensure'));
    expect(failed.ok).toBe(false);
    const [row] = await admin.query<{ n: number }>(
      "SELECT COUNT(*) AS n FROM mysql.global_priv WHERE User = 'fay'",
    );
    expect(Number(row?.n)).toBe(0);
    expect((await run([createUser('fay')])).ok).toBe(true);
    expect(await canLogin('fay', await password('fay'))).toBe(true);
  });

  it('converges after its connection is killed between actions', async () => {
    const db = await server.admin();
    const [me] = await db.query<{ id: number }>('SELECT CONNECTION_ID() AS id');
    let killed = false;
    const result = await executeBatch(
      { target: cluster, actions: [createUser('gus'), createUser('hal'), createUser('ivy')] },
      depsFor(db, store, async () => {
        if (!killed) {
          killed = true;
          await admin.query(`KILL CONNECTION ${Number(me!.id)}`);
        }
      }),
    );
    await db.close();
    expect(result.results.map((r) => r.status)).toEqual(['ok', 'failed', 'failed']);
    const retry = await run([createUser('gus'), createUser('hal'), createUser('ivy')]);
    expect(retry.ok).toBe(true);
    for (const u of ['gus', 'hal', 'ivy']) expect(await canLogin(u, await password(u))).toBe(true);
  });

  it('serialises two applies at once with the cluster lock', async () => {
    const batch = [createUser('jay'), createUser('kim', [select('orders'), select('audit')])];
    const [a, b] = await Promise.all([run(batch), run(batch)]);
    expect(a.ok && b.ok).toBe(true);
    expect(store.read('rds-orders-jay-secret')!.versions).toHaveLength(1);
    const kim = await loginAs(server, 'kim', await password('kim'));
    expect(await allowed(kim, 'SELECT * FROM audit.t')).toBe(true);
    await kim.close();
  });

  it('refuses to drop a user that is the DEFINER of a view, unless told to warn', async () => {
    await run([createUser('lee')]);
    await admin.query("CREATE DEFINER = 'lee'@'%' VIEW orders.v_lee AS SELECT 1 AS one");
    const drop: Action = {
      kind: 'delete_user',
      user: 'lee',
      host: '%',
      secretName: 'rds-orders-lee-secret',
      reason: 'not declared',
    };
    const refused = await run([drop]);
    expect(refused.results[0]).toMatchObject({ status: 'failed' });
    expect(refused.results[0]!.message).toContain('DEFINER of view orders.v_lee');
    expect(await canLogin('lee', await password('lee'))).toBe(true);
    const warned = await run([drop], store, { definers: 'warn' });
    expect(warned.results[0]).toMatchObject({
      status: 'ok',
      warnings: [expect.stringContaining('orders.v_lee')],
    });
    expect(await canLogin('lee', 'anything')).toBe(false);
  });

  it('keeps going past a failed action up to the bound, then reports the rest as not run', async () => {
    const missingTable = (user: string) =>
      createUser(user, [{ level: 'table', database: 'orders', table: 'nope', privilege: 'SELECT' }]);
    const result = await run(
      [missingTable('m1'), createUser('m2'), missingTable('m3'), createUser('m4')],
      store,
      { maxFailures: 2 },
    );
    expect(result.results.map((r) => r.status)).toEqual(['failed', 'ok', 'failed', 'not run']);
    expect(result.results[0]!.message).toMatch(/create_user 'm1'@'%': .*nope.*create it first/);
    expect(result.ok).toBe(false);
  });
});
