/**
 * `dbusers event FILE.json`: the executor Lambda's own handler, run on a payload with the local
 * adapters against a MariaDB of ours (DBUSERS_DATABASE_URL), the clusters of users/ as its
 * configuration. A seed payload and a batch are carried out; a hostile one is refused, exit 1.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSecretStore } from '../../reconciler/src/adapters/local/file-secret-store.js';
import type { Database } from '../../reconciler/src/adapters/mysql/database.js';
import { cli, exampleWorkspace, useServer } from '../support/cli.js';
import { allowed, loginAs, startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let admin: Database;
let work: string;
const secrets = () => new FileSecretStore(join(work, 'state', 'secrets', '111122223333'));

/** The DESIGN §3 example's cluster, as a batch names it. */
const target = {
  name: 'orders',
  account: '111122223333',
  region: 'eu-west-1',
  engine: 'aurora-mysql',
  endpoint: 'orders.cluster-abc.eu-west-1.rds.amazonaws.com',
  port: 3306,
  masterSecretArn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:orders-master',
  databases: ['orders', 'audit'],
};

function payload(name: string, event: unknown): string {
  const file = join(work, `${name}.json`);
  writeFileSync(file, JSON.stringify(event));
  return file;
}

beforeAll(async () => {
  server = await startTestServer();
  admin = await server.admin();
  for (const sql of [
    'CREATE DATABASE orders',
    'CREATE DATABASE audit',
    'CREATE TABLE orders.t (id INT)',
    "CREATE USER 'by_hand'@'%' IDENTIFIED BY 'x'",
  ]) {
    await admin.query(sql);
  }
  work = exampleWorkspace();
  useServer(server.url, work);
});

afterAll(async () => {
  await admin?.close();
  await server?.stop();
});

describe('dbusers event', () => {
  it('replays a seed create_user: the user logs in with the seed-named secret and reads its database', async () => {
    const file = payload('seed', {
      username: 'seed_app',
      role: 'readonly',
      rds_secret_name: 'orders-master',
      db_name: 'orders',
      action: 'create_user',
    });
    const r = await cli('event', file, join(work, 'users'));
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({
      cluster: 'orders',
      ok: true,
      results: [{ kind: 'create_user', user: 'seed_app', status: 'ok' }],
    });
    const secret = await secrets().getValue('rds-orders-seed_app-secret', 'AWSCURRENT');
    const db = await loginAs(server, 'seed_app', secret!.password);
    expect(await allowed(db, 'SELECT * FROM orders.t')).toBe(true);
    expect(await allowed(db, 'INSERT INTO orders.t VALUES (1)')).toBe(false);
    await db.close();
    expect(r.out).not.toContain(secret!.password);
  });

  it('replays a batch against the cluster the YAML configures', async () => {
    const yaml = (await import('node:fs')).readFileSync('users/payments-prod.yaml', 'utf8');
    expect(yaml).toContain('orders.cluster-abc.eu-west-1.rds.amazonaws.com');
    const action = {
      kind: 'create_user',
      user: 'batch_app',
      host: '%',
      auth: 'password',
      adopt: false,
      secretName: 'rds-orders-batch_app-secret',
      grants: [{ level: 'database', database: 'audit', privilege: 'SELECT' }],
      roles: [],
      reason: 'missing',
    };
    const r = await cli(
      'event',
      payload('batch', { action: 'batch', target, actions: [action] }),
      join(work, 'users'),
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).results).toEqual([expect.objectContaining({ user: 'batch_app', status: 'ok' })]);
  });

  it('exits 1 and changes nothing for a batch that drops an account dbusers did not create', async () => {
    const r = await cli(
      'event',
      payload('hostile', {
        action: 'batch',
        target,
        actions: [{ kind: 'delete_user', user: 'by_hand', host: '%', reason: 'x' }],
      }),
      join(work, 'users'),
    );
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).results).toEqual([
      expect.objectContaining({
        status: 'refused',
        message: expect.stringMatching(/not an account dbusers manages/),
      }),
    ]);
    const [row] = await admin.query<{ n: number }>(
      "SELECT COUNT(*) AS n FROM mysql.global_priv WHERE User = 'by_hand'",
    );
    expect(Number(row!.n)).toBe(1);
  });

  it('exits 1 with one clear message for a payload that is not JSON or names another endpoint', async () => {
    writeFileSync(join(work, 'broken.json'), '{ "username": ');
    const broken = await cli('event', join(work, 'broken.json'), join(work, 'users'));
    expect(broken.code).toBe(1);
    expect(broken.err).toMatch(/^dbusers: event: .*broken\.json: /);
    const elsewhere = await cli(
      'event',
      payload('elsewhere', {
        action: 'inspect',
        target: {
          name: 'orders',
          account: '111122223333',
          region: 'eu-west-1',
          engine: 'aurora-mysql',
          endpoint: 'evil.example.com',
          port: 3306,
          masterSecretArn: 'x',
          databases: [],
        },
      }),
      join(work, 'users'),
    );
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.err).toMatch(
      /disagrees with this executor's configuration: endpoint "evil.example.com"/,
    );
    expect(elsewhere.err).not.toMatch(/\n {4}at /);
  });

  it('replays a rotation: all four steps on a local secret, then the new password logs in and the old one is refused', async () => {
    const name = 'rds-orders-seed_app-secret';
    const old = (await secrets().getValue(name, 'AWSCURRENT'))!.password;
    const ClientRequestToken = 'f00dfeed-0000-4000-8000-000000000001';
    for (const Step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret']) {
      const r = await cli(
        'event',
        payload(`rotation-${Step}`, { Step, SecretId: name, ClientRequestToken }),
        join(work, 'users'),
      );
      expect(r.code, r.err).toBe(0);
    }
    const rotated = (await secrets().getValue(name, 'AWSCURRENT'))!.password;
    expect(rotated).not.toBe(old);
    await (await loginAs(server, 'seed_app', rotated)).close();
    await expect(loginAs(server, 'seed_app', old)).rejects.toThrow(/Access denied/);
  });
});
