/**
 * The executor Lambda handler on a real MariaDB, with Secrets Manager mocked at the SDK boundary:
 * the seed's own single-action payloads, a batch of every kind, redelivery, a crash between reset
 * steps, and no password in any result.
 */
import { DeleteSecretCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { connect, type Database } from '../../reconciler/src/adapters/mysql/database.js';
import type { BatchResult } from '../../reconciler/src/model/batch.js';
import {
  ExecutorEventError,
  ExecutorFailedError,
  makeExecutorHandler,
} from '../../reconciler/src/handlers/executor.js';
import { awsExecutorDeps, makeLambdaHandler } from '../../reconciler/src/handlers/executor-lambda.js';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  type InspectPayload,
  PACK_ABOVE,
  unpackInspect,
} from '../../reconciler/src/adapters/aws/inspect-payload.js';
import type { ActualState } from '../../reconciler/src/model/types.js';
import { REGISTRY_KEY_SECRET } from '../../reconciler/src/adapters/aws/secrets-manager.js';
import { fakeSecretsManager } from '../support/fake-secrets-manager.js';
import { ordersCluster } from '../support/fixtures.js';
import { allowed, loginAs, startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let admin: Database;
let sm: ReturnType<typeof fakeSecretsManager>;
const MASTER = 'prod/aurora/master';
/** The fixture cluster, served by the test server. */
const cluster = () => ({
  ...ordersCluster,
  endpoint: server.spec.host,
  port: server.spec.port,
  masterSecretArn: MASTER,
});
const env = () => ({
  ROTATION_LAMBDA_ARN: 'arn:aws:lambda:eu-west-1:111122223333:function:rotate',
  ROTATION_DAYS: '30',
  DBUSERS_CLUSTERS: JSON.stringify([cluster()]),
});
const seedEvent = (action: string, username: string, role = 'readonly') => ({
  username,
  role,
  rds_secret_name: MASTER,
  db_name: 'orders',
  action,
});

function handler() {
  return makeExecutorHandler(awsExecutorDeps({ secretsClient: sm.client, connect, env: env() }));
}

async function current(name: string): Promise<Record<string, unknown>> {
  const s = sm.secrets.get(name)!;
  return JSON.parse([...s.versions.values()].find((v) => v.stages.includes('AWSCURRENT'))!.value);
}

async function loginWith(name: string): Promise<Database> {
  const c = await current(name);
  return loginAs(server, String(c.username), String(c.password));
}

function allPasswords(): string[] {
  return [...sm.secrets.values()]
    .filter((s) => s.name !== REGISTRY_KEY_SECRET)
    .flatMap((s) => [...s.versions.values()].map((v) => String(JSON.parse(v.value).password)));
}

beforeAll(async () => {
  server = await startTestServer();
  admin = await server.admin();
  for (const sql of [
    'CREATE DATABASE orders',
    'CREATE DATABASE audit',
    'CREATE TABLE orders.t (id INT)',
    'CREATE TABLE audit.t (id INT)',
    "CREATE USER 'master'@'%' IDENTIFIED BY 'master-pw'",
    "GRANT ALL PRIVILEGES ON *.* TO 'master'@'%' WITH GRANT OPTION",
  ])
    await admin.query(sql);
});

beforeEach(() => {
  sm = fakeSecretsManager();
  const master = sm.seed(
    MASTER,
    {
      engine: 'mysql',
      host: server.spec.host,
      port: server.spec.port,
      username: 'master',
      password: 'master-pw',
      dbname: 'mysql',
    },
    {
      tags: [{ Key: 'team', Value: 'payments' }],
    },
  );
  master.policy = JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: 'arn:aws:iam::111122223333:role/app' },
        Action: 'secretsmanager:GetSecretValue',
        Resource: master.arn,
      },
    ],
  });
});

afterEach(() => sm.mock.restore());

afterAll(async () => {
  await admin?.close();
  await server?.stop();
});

describe('executor handler, seed payloads', () => {
  it('create_user: makes the user and the seed-named secret with the RDS JSON, tags, policy and rotation', async () => {
    const result = (await handler()(seedEvent('create_user', 'app_ro') as never)) as BatchResult;
    expect(result.results).toEqual([
      expect.objectContaining({ kind: 'create_user', user: 'app_ro', status: 'ok' }),
    ]);
    const secret = sm.secrets.get('rds-orders-app_ro-secret')!;
    expect(Object.keys(await current('rds-orders-app_ro-secret')).sort()).toEqual([
      'db_name',
      'dbname',
      'engine',
      'host',
      'masterarn',
      'password',
      'port',
      'username',
    ]);
    expect(await current('rds-orders-app_ro-secret')).toMatchObject({
      engine: 'mariadb',
      username: 'app_ro',
      dbname: 'orders',
      masterarn: MASTER,
      host: server.spec.host,
      port: server.spec.port,
    });
    expect(Object.fromEntries(secret.tags.map((t) => [t.Key, t.Value]))).toMatchObject({
      'managed-by': 'dbusers',
      create_by_user_automation: 'true',
      team: 'payments',
      'dbusers:cluster': 'orders',
      'dbusers:account': '111122223333',
    });
    expect(JSON.parse(secret.policy!).Statement[0].Resource).toBe(secret.arn);
    expect(secret.rotation).toEqual({ lambda: env().ROTATION_LAMBDA_ARN, days: 30 });
    const db = await loginWith('rds-orders-app_ro-secret');
    expect(await allowed(db, 'SELECT * FROM orders.t')).toBe(true);
    expect(await allowed(db, 'INSERT INTO orders.t VALUES (1)')).toBe(false);
    await db.close();
  });

  it('update_grant: moves the user to readwrite on that database and keeps its other grants', async () => {
    await handler()(seedEvent('create_user', 'app_up') as never);
    await admin.query("GRANT SELECT ON audit.* TO 'app_up'@'%'");
    await handler()(seedEvent('update_grant', 'app_up', 'readwrite') as never);
    const db = await loginWith('rds-orders-app_up-secret');
    expect(await allowed(db, 'INSERT INTO orders.t VALUES (1)')).toBe(true);
    expect(await allowed(db, 'SELECT * FROM audit.t')).toBe(true);
    await db.close();
    await handler()(seedEvent('update_grant', 'app_up', 'readonly') as never);
    const again = await loginWith('rds-orders-app_up-secret');
    expect(await allowed(again, 'INSERT INTO orders.t VALUES (2)')).toBe(false);
    await again.close();
  });

  it('reset_password: pending version, then the server, then current; the old password stops working', async () => {
    await handler()(seedEvent('create_user', 'app_rs') as never);
    const old = String((await current('rds-orders-app_rs-secret')).password);
    sm.mock.resetHistory();
    await handler()(seedEvent('reset_password', 'app_rs', '') as never);
    const names = sm.mock.calls().map((c) => c.args[0].constructor.name);
    expect(names.indexOf('PutSecretValueCommand')).toBeLessThan(
      names.indexOf('UpdateSecretVersionStageCommand'),
    );
    expect(sm.mock.commandCalls(PutSecretValueCommand)[0]!.args[0].input.VersionStages).toEqual([
      'AWSPENDING',
    ]);
    await expect(loginAs(server, 'app_rs', old)).rejects.toThrow(/Access denied/);
    await (await loginWith('rds-orders-app_rs-secret')).close();
  });

  it('delete_user: drops the user and schedules its secret for deletion with a recovery window', async () => {
    await handler()(seedEvent('create_user', 'app_del') as never);
    await handler()(seedEvent('delete_user', 'app_del', '') as never);
    const [row] = await admin.query<{ n: number }>(
      "SELECT COUNT(*) AS n FROM mysql.global_priv WHERE User = 'app_del'",
    );
    expect(Number(row?.n)).toBe(0);
    expect(sm.mock.commandCalls(DeleteSecretCommand).map((c) => c.args[0].input)).toEqual([
      { SecretId: 'rds-orders-app_del-secret', RecoveryWindowInDays: 7 },
    ]);
  });

  it('refuses to delete a user this automation did not create', async () => {
    await admin.query("CREATE USER 'by_hand'@'%' IDENTIFIED BY 'x'");
    await expect(handler()(seedEvent('delete_user', 'by_hand', '') as never)).rejects.toThrow(
      /not created by this automation/,
    );
    const [row] = await admin.query<{ n: number }>(
      "SELECT COUNT(*) AS n FROM mysql.global_priv WHERE User = 'by_hand'",
    );
    expect(Number(row?.n)).toBe(1);
  });

  it.each([
    [
      'a JSON injection in the user name',
      {
        ...seedEvent('create_user', 'x'),
        username: 'bob", "roles":["arn:aws:iam::999999999999:root"], "x":"',
      },
    ],
    [
      'an SQL injection in the database name',
      { ...seedEvent('create_user', 'x'), db_name: 'orders`; DROP DATABASE audit; --' },
    ],
    ['an extra key', { ...seedEvent('create_user', 'x'), roles: ['arn:aws:iam::999999999999:root'] }],
    ['an unknown action', { ...seedEvent('create_user', 'x'), action: 'list_users' }],
  ])('refuses %s and changes nothing', async (_, event) => {
    await expect(handler()(event as never)).rejects.toThrow(ExecutorEventError);
    expect(sm.mock.calls()).toHaveLength(0);
  });

  it('refuses create_user without a GrantType instead of leaving a user with no grants', async () => {
    await expect(handler()(seedEvent('create_user', 'no_role', '') as never)).rejects.toThrow(/GrantType/);
    const [row] = await admin.query<{ n: number }>(
      "SELECT COUNT(*) AS n FROM mysql.global_priv WHERE User = 'no_role'",
    );
    expect(Number(row?.n)).toBe(0);
  });
});

describe('executor handler, batches and inspect', () => {
  const target = cluster;
  const batch = () => ({
    action: 'batch' as const,
    id: 'commit-abc/orders/plan-1',
    target: target(),
    actions: [
      {
        kind: 'create_role' as const,
        user: 'b_role',
        host: '',
        adopt: false,
        grants: [{ level: 'database' as const, database: 'audit', privilege: 'SELECT' }],
        roles: [],
        reason: 'missing',
      },
      {
        kind: 'create_user' as const,
        user: 'b_user',
        host: '%',
        auth: 'password' as const,
        adopt: false,
        secretName: 'rds-orders-b_user-secret',
        grants: [{ level: 'database' as const, database: 'orders', privilege: 'SELECT' }],
        roles: ['b_role'],
        reason: 'missing',
      },
      {
        kind: 'create_user' as const,
        user: 'b_gone',
        host: '%',
        auth: 'password' as const,
        adopt: false,
        secretName: 'rds-orders-b_gone-secret',
        grants: [],
        roles: [],
        reason: 'missing',
      },
      {
        kind: 'reset_password' as const,
        user: 'b_user',
        host: '%',
        secretName: 'rds-orders-b_user-secret',
        reason: 'reset requested',
      },
      {
        kind: 'delete_user' as const,
        user: 'b_gone',
        host: '%',
        secretName: 'rds-orders-b_gone-secret',
        reason: 'not declared',
      },
    ],
  });

  it('runs a batch of every kind, and a redelivered batch does nothing twice', async () => {
    const first = (await handler()(batch())) as BatchResult;
    expect(first.results.map((r) => r.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    const db = await loginWith('rds-orders-b_user-secret');
    expect(await allowed(db, 'SELECT * FROM audit.t')).toBe(true);
    await db.close();
    const puts = sm.mock.commandCalls(PutSecretValueCommand).length;
    const redelivered = (await handler()(batch())) as BatchResult;
    expect(redelivered).toEqual({ ...first, replayed: true });
    expect(sm.mock.commandCalls(PutSecretValueCommand)).toHaveLength(puts);
    const [gone] = await admin.query<{ n: number }>(
      "SELECT COUNT(*) AS n FROM mysql.global_priv WHERE User = 'b_gone'",
    );
    expect(Number(gone?.n)).toBe(0);
    expect(JSON.stringify(first)).not.toMatch(new RegExp(allPasswords().join('|')));
  });

  it('takes a batch in pieces, as the SSM document passes it', async () => {
    const text = JSON.stringify({
      action: 'batch',
      target: target(),
      actions: [{ kind: 'drop_role', user: 'b_role', host: '', reason: 'not declared' }],
    });
    const pieces = text.match(/.{1,500}/gs)!;
    const result = (await handler()({ pieces })) as BatchResult;
    expect(result.results).toEqual([expect.objectContaining({ kind: 'drop_role', status: 'ok' })]);
  });

  it('fails the invocation when an action fails, and the next run repairs a crash between reset steps', async () => {
    await handler()({
      ...batch(),
      id: undefined,
      actions: [batch().actions[1]!].map((a) => ({
        ...a,
        user: 'b_crash',
        secretName: 'rds-orders-b_crash-secret',
        roles: [],
      })),
    });
    sm.failNext(
      'UpdateSecretVersionStageCommand',
      Object.assign(new Error('the Lambda was stopped'), { name: 'InvalidRequestException' }),
    );
    const reset = {
      ...batch(),
      id: 'reset-1',
      actions: [
        {
          kind: 'reset_password' as const,
          user: 'b_crash',
          host: '%',
          secretName: 'rds-orders-b_crash-secret',
          reason: 'reset requested',
        },
      ],
    };
    const error = await handler()(reset).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExecutorFailedError);
    expect((error as ExecutorFailedError).result.results[0]).toMatchObject({ status: 'failed' });
    expect((error as Error).message).not.toMatch(new RegExp(allPasswords().join('|')));
    const pending = JSON.parse(
      [...sm.secrets.get('rds-orders-b_crash-secret')!.versions.values()].find((v) =>
        v.stages.includes('AWSPENDING'),
      )!.value,
    );
    await (await loginAs(server, 'b_crash', pending.password)).close();
    expect(((await handler()(reset)) as BatchResult).ok).toBe(true);
    expect((await current('rds-orders-b_crash-secret')).password).toBe(pending.password);
    await (await loginWith('rds-orders-b_crash-secret')).close();
  });

  it('inspects the target and returns its state without secret values', async () => {
    await handler()({
      ...batch(),
      id: undefined,
      actions: [batch().actions[1]!].map((a) => ({ ...a, roles: [] })),
    });
    const state = (await handler()({
      action: 'inspect',
      target: target(),
      secretNames: ['rds-orders-b_user-secret'],
    })) as ActualState;
    expect(state.accounts.map((a) => a.user)).toEqual(expect.arrayContaining(['b_user', 'master']));
    expect(state.owned.map((o) => o.user)).toContain('b_user');
    expect(state.secrets['rds-orders-b_user-secret']).toMatchObject({ hasCurrent: true });
    expect(JSON.stringify(state)).not.toMatch(new RegExp(allPasswords().join('|')));
    // This MariaDB has no IAM plugin, and the deployed executor makes no locked stand-in: a plan refuses IAM users.
    expect([state.supportsIamAuth, state.iamStandIn]).toEqual([false, undefined]);
  });
});

describe('the Lambda entry: logs and metrics', () => {
  it('logs each action and the batch as structured JSON and publishes EMF metrics, with no password anywhere', async () => {
    const lines: string[] = [];
    const capture = (s: unknown) => (lines.push(String(s)), true);
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
    try {
      const lambda = makeLambdaHandler({ secretsClient: sm.client, connect, env: env() });
      await lambda(seedEvent('create_user', 'logged') as never);
      await expect(lambda(seedEvent('delete_user', 'by_hand') as never)).rejects.toThrow();
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
    const json = lines
      .flatMap((l) => l.split('\n'))
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(json).toContainEqual(
      expect.objectContaining({
        level: 'INFO',
        message: 'action',
        service: 'dbusers-executor',
        cluster: 'orders',
        account: "'logged'@'%'",
        kind: 'create_user',
        outcome: 'ok',
        durationMs: expect.any(Number),
      }),
    );
    expect(json).toContainEqual(expect.objectContaining({ message: 'batch', ok: true, actions: 1 }));
    expect(json).toContainEqual(
      expect.objectContaining({
        level: 'ERROR',
        message: 'invocation failed',
        error: 'ExecutorEventError',
        detail: expect.stringMatching(/not created by this automation/),
      }),
    );
    expect(lines.join('\n')).not.toMatch(/reserved key/);
    const emf = json.filter((j) => j._aws);
    expect(emf).toContainEqual(
      expect.objectContaining({
        ActionsSucceeded: 1,
        BatchDuration: expect.any(Number),
        service: 'dbusers-executor',
      }),
    );
    expect(JSON.stringify(emf[0]!._aws)).toContain('"Namespace":"dbusers"');
    for (const p of allPasswords()) expect(lines.join('\n')).not.toContain(p);
  });
});

describe('the Lambda entry: inspect answers', () => {
  it('gzips a large inspect answer, which the reconciler decodes to what the handler read', async () => {
    const users = Array.from({ length: 1_500 }, (_, i) => `bulk_${i}`);
    const list = users.map((u) => `'${u}'@'10.0.%'`).join(', ');
    await admin.query(`CREATE USER ${users.map((u) => `'${u}'@'10.0.%' IDENTIFIED BY 'x'`).join(', ')}`);
    await admin.query(`GRANT SELECT, INSERT ON orders.* TO ${list}`);
    try {
      const event = { action: 'inspect', target: cluster() } as never;
      const quiet = {
        logger: new Logger({ logLevel: 'SILENT' }),
        metrics: new Metrics({ namespace: 'test' }),
      };
      vi.spyOn(quiet.metrics, 'publishStoredMetrics').mockImplementation(() => quiet.metrics);
      const sent = (await makeLambdaHandler({ secretsClient: sm.client, connect, env: env(), ...quiet })(
        event,
      )) as InspectPayload;
      expect(sent).toMatchObject({ encoding: 'gzip+base64' });
      const state = unpackInspect(sent);
      expect(state.accounts.filter((a) => a.user.startsWith('bulk_'))).toHaveLength(1_500);
      expect(JSON.stringify(state).length).toBeGreaterThan(PACK_ABOVE);
      expect(JSON.stringify(sent).length).toBeLessThan(JSON.stringify(state).length / 4);
      expect(state).toEqual(await handler()(event));
    } finally {
      await admin.query(`DROP USER ${list}`);
    }
  });
});

describe('the executor as the rotation function', () => {
  const token = (n: number) => `a1b2c3d4-0000-4000-8000-${String(n).padStart(12, '0')}`;
  const step = (Step: string, SecretId: string, ClientRequestToken: string) => ({
    Step,
    SecretId,
    ClientRequestToken,
    RotationToken: 'rot-token',
  });

  it('rotates in four steps, each idempotent: the new password logs in, the old one is refused, rotation turned on after the first password', async () => {
    const h = handler();
    await h(seedEvent('create_user', 'rotated') as never);
    const name = 'rds-orders-rotated-secret';
    expect(sm.secrets.get(name)!.rotation).toEqual({ lambda: env().ROTATION_LAMBDA_ARN, days: 30 });
    const old = String((await current(name)).password);
    const arn = sm.secrets.get(name)!.arn;
    for (const s of [
      'createSecret',
      'createSecret',
      'setSecret',
      'setSecret',
      'testSecret',
      'finishSecret',
      'finishSecret',
    ]) {
      const result = (await h(step(s, arn, token(1)) as never)) as BatchResult;
      expect(result.results).toEqual([expect.objectContaining({ user: 'rotated', host: '%', status: 'ok' })]);
    }
    const puts = sm.mock
      .commandCalls(PutSecretValueCommand)
      .filter((c) => c.args[0].input.ClientRequestToken === token(1));
    expect(puts.map((c) => c.args[0].input)).toEqual([
      expect.objectContaining({ SecretId: name, VersionStages: ['AWSPENDING'], RotationToken: 'rot-token' }),
    ]);
    const rotated = String((await current(name)).password);
    expect(rotated).not.toBe(old);
    await (await loginAs(server, 'rotated', rotated)).close();
    await expect(loginAs(server, 'rotated', old)).rejects.toThrow(/Access denied/);
  });

  it('acts in a rotation step only on the pending version its createSecret made: a token naming another version is refused, and changes nothing', async () => {
    const h = handler();
    await h(seedEvent('create_user', 'pinned') as never);
    const name = 'rds-orders-pinned-secret';
    for (const s of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'])
      await h(step(s, name, token(10)) as never);
    const versions = () => [...sm.secrets.get(name)!.versions];
    const [previous] = versions().find(([, v]) => v.stages.includes('AWSPREVIOUS'))!;
    const live = String((await current(name)).password);
    // A rotation begun (its pending version made, not yet on the server), and calls naming other versions.
    await h(step('createSecret', name, token(11)) as never);
    const unset = String(JSON.parse(sm.secrets.get(name)!.versions.get(token(11))!.value).password);
    for (const [s, t] of [
      ['setSecret', previous], // would put the password rotated away back on the server
      ['testSecret', previous],
      ['setSecret', token(12)],
      ['finishSecret', token(12)], // would promote the pending password, which the server does not hold
    ] as const) {
      await expect(h(step(s, name, t) as never), `${s} ${t}`).rejects.toThrow(
        `secret ${name}: version ${t} is not its pending version`,
      );
    }
    expect(String((await current(name)).password)).toBe(live);
    await (await loginAs(server, 'pinned', live)).close();
    await expect(loginAs(server, 'pinned', unset)).rejects.toThrow(/Access denied/);
    // The rotation then finishes on its own token, and Secrets Manager's retries after it do nothing.
    for (const s of ['setSecret', 'testSecret', 'finishSecret', 'setSecret', 'testSecret'])
      await h(step(s, name, token(11)) as never);
    expect(String((await current(name)).password)).toBe(unset);
    await (await loginAs(server, 'pinned', unset)).close();
    await expect(loginAs(server, 'pinned', live)).rejects.toThrow(/Access denied/);
    // A late retry of that finishSecret, once the next rotation has begun, leaves its pending version alone.
    await h(step('createSecret', name, token(13)) as never);
    await h(step('finishSecret', name, token(11)) as never);
    expect(String((await current(name)).password)).toBe(unset);
    expect(sm.secrets.get(name)!.versions.get(token(13))!.stages).toEqual(['AWSPENDING']);
  });

  it('begins no rotation while the server holds the password an unfinished one left pending', async () => {
    const h = handler();
    await h(seedEvent('create_user', 'halfway') as never);
    const name = 'rds-orders-halfway-secret';
    for (const s of ['createSecret', 'setSecret']) await h(step(s, name, token(20)) as never);
    const set = String(JSON.parse(sm.secrets.get(name)!.versions.get(token(20))!.value).password);
    await expect(h(step('createSecret', name, token(21)) as never)).rejects.toThrow(
      `secret ${name}: the server already holds its pending password (a rotation or reset not finished); finish that one first`,
    );
    expect(sm.secrets.get(name)!.versions.get(token(20))!.stages).toEqual(['AWSPENDING']);
    expect(sm.secrets.get(name)!.versions.has(token(21))).toBe(false);
    for (const s of ['testSecret', 'finishSecret']) await h(step(s, name, token(20)) as never);
    expect(String((await current(name)).password)).toBe(set);
    await (await loginAs(server, 'halfway', set)).close();
    // Finished, a new rotation may begin.
    await h(step('createSecret', name, token(21)) as never);
    expect(sm.secrets.get(name)!.versions.get(token(21))!.stages).toEqual(['AWSPENDING']);
  });

  it('fails testSecret, and finishSecret, when the server does not hold the pending password, and never promotes it', async () => {
    const h = handler();
    await h(seedEvent('create_user', 'untested') as never);
    const name = 'rds-orders-untested-secret';
    const before = String((await current(name)).password);
    await h(step('createSecret', name, token(2)) as never);
    // Secrets Manager runs the steps in order; a caller skipping setSecret must not make clients fail.
    for (const s of ['testSecret', 'finishSecret'])
      await expect(h(step(s, name, token(2)) as never), s).rejects.toThrow(
        /does not hold the pending password/,
      );
    expect(String((await current(name)).password)).toBe(before);
    await (await loginAs(server, 'untested', before)).close();
  });

  it('refuses to rotate the master secret or a secret dbusers did not make', async () => {
    const h = handler();
    await expect(h(step('createSecret', MASTER, token(3)) as never)).rejects.toThrow(
      /not a secret dbusers made/,
    );
    sm.seed(
      'someone-else',
      { username: 'x', password: 'y' },
      {
        tags: [
          { Key: 'managed-by', Value: 'dbusers' },
          { Key: 'dbusers:cluster', Value: 'orders' },
          { Key: 'dbusers:account', Value: '111122223333' },
        ],
      },
    );
    await expect(h(step('setSecret', 'someone-else', token(4)) as never)).rejects.toThrow(
      /holds the password of no account dbusers manages/,
    );
  });
});
