/**
 * The executor as a hostile caller finds it: events through the Lambda handler on a real MariaDB,
 * Secrets Manager mocked at the SDK. Each event is refused before any connection or AWS call (bad
 * shape, a cluster the executor does not serve, a malformed value, a protected account), or refused
 * by the executor's own rules after reading the server (not ours, the master, the privilege
 * policy), with no statement that changes anything: the grant tables are byte-for-byte the same.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../reconciler/src/adapters/mysql/database.js';
import {
  ExecutorEventError,
  ExecutorFailedError,
  makeExecutorHandler,
} from '../../reconciler/src/handlers/executor.js';
import { awsExecutorDeps } from '../../reconciler/src/handlers/executor-lambda.js';
import type { BatchResult } from '../../reconciler/src/model/batch.js';
import { fakeSecretsManager } from '../support/fake-secrets-manager.js';
import { ordersCluster } from '../support/fixtures.js';
import { allowed, loginAs, recordingConnect, startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let admin: Database;
let sm: ReturnType<typeof fakeSecretsManager>;
/** Every connection the handler opens, and every statement it sends, are counted. */
const recorder = recordingConnect();
const statements = recorder.sent.statements;
const MASTER = 'orders-master';

/** The fixture cluster, served by the test server. */
const cluster = () => ({
  ...ordersCluster,
  endpoint: server.spec.host,
  port: server.spec.port,
  masterSecretArn: MASTER,
  protectedAccounts: ['legacy_etl'],
});

function handler() {
  return makeExecutorHandler(
    awsExecutorDeps({
      secretsClient: sm.client,
      connect: recorder.connect,
      env: { DBUSERS_CLUSTERS: JSON.stringify([cluster()]) },
    }),
  );
}

/** The grant tables, row by row: what must not change when an event is refused. */
async function grantTables(): Promise<string> {
  const out: Record<string, unknown> = {};
  for (const t of ['global_priv', 'db', 'tables_priv', 'columns_priv', 'procs_priv', 'roles_mapping']) {
    out[t] = await admin.query(`SELECT * FROM mysql.${t} ORDER BY 1, 2, 3`);
  }
  return JSON.stringify(out);
}

const CHANGES =
  /^\s*(CREATE USER|CREATE ROLE|ALTER USER|DROP|GRANT|REVOKE|SET DEFAULT ROLE|INSERT|DELETE|UPDATE|RENAME)/i;
const AWS_WRITES = /^(Create|Put|Update|Delete|Rotate|Restore|Tag)/;

const base = { reason: 'hostile' };
const create = (user: string, extra: Record<string, unknown> = {}) => ({
  kind: 'create_user',
  user,
  host: '%',
  auth: 'password',
  adopt: false,
  secretName: `rds-orders-${user}-secret`,
  grants: [],
  roles: [],
  ...base,
  ...extra,
});
const update = (user: string, grants: unknown[], extra: Record<string, unknown> = {}) => ({
  kind: 'update_grant',
  user,
  host: '%',
  accountKind: 'user',
  grants,
  roles: [],
  ...base,
  ...extra,
});
const del = (user: string, host = '%') => ({ kind: 'delete_user', user, host, ...base });
const reset = (user: string, secretName: string) => ({
  kind: 'reset_password',
  user,
  host: '%',
  secretName,
  ...base,
});
const global = (privilege: string) => ({ level: 'global', privilege });
const onDb = (database: string, privilege: string, pattern?: string) => ({
  level: 'database',
  database,
  privilege,
  ...(pattern ? { pattern } : {}),
});
const onProcedure = (routine: string, routineType = 'PROCEDURE') => ({
  level: 'routine',
  database: 'orders',
  routine,
  routineType,
  privilege: 'EXECUTE',
});
const batch = (...actions: unknown[]) => ({ action: 'batch', target: cluster(), actions });
const seed = (action: string, username: string, extra: Record<string, unknown> = {}) => ({
  username,
  role: 'readonly',
  rds_secret_name: MASTER,
  db_name: 'orders',
  action,
  ...extra,
});

/** Refused before anything connects or calls AWS. */
const BEFORE_ANY_CALL: [string, () => unknown][] = [
  ['null', () => null],
  ['a number', () => 42],
  ['a string', () => 'create_user'],
  ['an array', () => []],
  ['an unknown seed action', () => seed('list_users', 'x')],
  ['an unknown event action', () => ({ ...batch(), action: 'drop_everything' })],
  [
    'an extra key in a seed payload',
    () => ({ ...seed('create_user', 'x'), roles: ['arn:aws:iam::999999999999:root'] }),
  ],
  ['an extra key in a batch', () => ({ ...batch(create('x')), endpoint: 'evil.example.com' })],
  ['an extra key in an action', () => batch(create('x', { sql: 'DROP DATABASE orders' }))],
  [
    'an extra key in a grant',
    () => batch(create('x', { grants: [{ ...onDb('orders', 'SELECT'), raw: 'ALL' }] })),
  ],
  [
    'an extra key in the target',
    () => ({ action: 'batch', target: { ...cluster(), masterPassword: 'x' }, actions: [] }),
  ],
  [
    'an option the executor takes only from its deployment',
    () => ({ ...batch(create('x')), options: { iamFallback: 'lock' } }),
  ],
  ['a failure bound of a billion', () => ({ ...batch(create('x')), options: { maxFailures: 1e9 } })],
  ['an unknown definer policy', () => ({ ...batch(create('x')), options: { definers: 'ignore' } })],
  ['a user name that is a number', () => batch(create('x', { user: 7 }))],
  [
    'the admin option on a role not granted',
    () => batch(create('x', { roles: [], adminRoles: ['legacy_role'] })),
  ],
  [
    'a non-default role not granted',
    () => batch(create('x', { roles: ['reader'], nonDefaultRoles: ['legacy_role'] })),
  ],
  ['actions that are not a list', () => ({ ...batch(), actions: { 0: create('x') } })],
  ['a port that is text', () => ({ ...batch(create('x')), target: { ...cluster(), port: '3306' } })],
  ['adopt as text', () => batch(create('x', { adopt: 'yes' }))],
  ['grants as an object', () => batch(create('x', { grants: { on: '*.*' } }))],
  ['SQL in the seed user name', () => seed('create_user', "x'@'%'; DROP USER master; --")],
  [
    'SQL in the seed database name',
    () => seed('create_user', 'x', { db_name: 'orders`; DROP DATABASE audit; --' }),
  ],
  [
    'a quote in the seed master secret name',
    () => seed('create_user', 'x', { rds_secret_name: "orders-master' OR '1" }),
  ],
  ['an unknown seed profile', () => seed('create_user', 'x', { role: 'superuser' })],
  [
    'SQL in a privilege',
    () => batch(update('app', [{ level: 'global', privilege: 'SELECT ON *.* TO x; GRANT ALL PRIVILEGES' }])),
  ],
  [
    'a lower-case privilege trick',
    () => batch(create('x', { grants: [{ level: 'global', privilege: 'all privileges' }] })),
  ],
  ['SQL in a host', () => batch(create('x', { host: "%' IDENTIFIED BY 'x" }))],
  ['an @ in a host', () => batch(create('x', { host: 'evil@%' }))],
  [
    'an IAM user with a secret (the registry would say the secret holds its password)',
    () => batch(create('x', { auth: 'iam' })),
  ],
  [
    'an upper-case host the server would store lower-cased',
    () => batch(create('x', { host: '%.Corp.Example.com' })),
  ],
  ['a 4-byte character in a host', () => batch(create('x', { host: '%.😀.example.com' }))],
  [
    'a control character in a database name',
    () => batch(create('x', { grants: [onDb('orders\n', 'SELECT')] })),
  ],
  [
    'a table name over 64 characters',
    () =>
      batch(
        create('x', {
          grants: [{ level: 'table', database: 'orders', table: 't'.repeat(65), privilege: 'SELECT' }],
        }),
      ),
  ],
  ['an unknown routine type', () => batch(create('x', { grants: [onProcedure('p', 'PROCEDURE; DROP')] }))],
  [
    'a routine grant MariaDB would lose at its next restart (a name outside ASCII)',
    () => batch(create('x', { grants: [onProcedure('prüfen')] })),
  ],
  [
    'a database the server cannot name in a grant (65 characters once its _ are escaped)',
    () => batch(create('x', { grants: [onDb(`${'a'.repeat(57)}____`, 'SELECT')] })),
  ],
  [
    'an unknown grant level',
    () => batch(create('x', { grants: [{ level: 'everything', privilege: 'SELECT' }] })),
  ],
  ['a path in a secret name', () => batch(create('x', { secretName: '../../master secret' }))],
  ['a batch id with spaces', () => ({ ...batch(create('x')), id: 'commit abc; DROP' })],
  ['a reason of 5,000 characters', () => batch(create('x', { reason: 'r'.repeat(5000) }))],
  [
    'an endpoint with a path',
    () => ({ ...batch(create('x')), target: { ...cluster(), endpoint: 'evil.example.com/x' } }),
  ],
  ['10,001 actions', () => batch(...Array.from({ length: 10_001 }, (_, i) => create(`u${i}`)))],
  [
    '5,001 grants on one action',
    () => batch(create('x', { grants: Array.from({ length: 5001 }, (_, i) => onDb(`d${i}`, 'SELECT')) })),
  ],
  ['pieces that are not JSON', () => ({ pieces: ['{"action":"batch",', 'oops'] })],
  ['pieces that join into a seed payload', () => ({ pieces: [JSON.stringify(seed('create_user', 'x'))] })],
  [
    'a cluster the executor does not serve',
    () => ({ ...batch(create('x')), target: { ...cluster(), name: 'payments' } }),
  ],
  [
    'another endpoint for the cluster',
    () => ({ ...batch(create('x')), target: { ...cluster(), endpoint: 'evil.example.com' } }),
  ],
  ['another port for the cluster', () => ({ ...batch(create('x')), target: { ...cluster(), port: 1 } })],
  [
    'another master secret for the cluster',
    () => ({ ...batch(create('x')), target: { ...cluster(), masterSecretArn: 'prod/other' } }),
  ],
  [
    'another account for the cluster',
    () => ({ ...batch(create('x')), target: { ...cluster(), account: '999999999999' } }),
  ],
  [
    'another region for the cluster',
    () => ({ ...batch(create('x')), target: { ...cluster(), region: 'us-east-1' } }),
  ],
  [
    'another engine for the cluster',
    () => ({ ...batch(create('x')), target: { ...cluster(), engine: 'mysql' } }),
  ],
  [
    'an onDigestMismatch the schema does not know',
    () => ({ action: 'inspect', target: { ...cluster(), onDigestMismatch: 'maybe' } }),
  ],
  [
    'inspect of a cluster the executor does not serve',
    () => ({ action: 'inspect', target: { ...cluster(), name: 'other' } }),
  ],
  [
    'a seed payload naming a master secret the executor does not serve',
    () => seed('create_user', 'x', { rds_secret_name: 'prod/other' }),
  ],
  ['dropping rdsadmin@localhost', () => batch(del('rdsadmin', 'localhost'))],
  ['adopting root@127.0.0.1', () => batch(create('root', { host: '127.0.0.1', adopt: true }))],
  ['changing mysql.sys', () => batch(update('mysql.sys', [global('SELECT')], { host: 'localhost' }))],
  ['dropping mariadb.sys', () => batch(del('mariadb.sys', 'localhost'))],
  ['dropping the PUBLIC role', () => batch({ kind: 'drop_role', user: 'PUBLIC', host: '', ...base })],
  [
    'dropping an Aurora AWS_ role',
    () => batch({ kind: 'drop_role', user: 'AWS_LOAD_S3_ACCESS', host: '', ...base }),
  ],
  [
    'granting rds_superuser_role',
    () =>
      batch({
        kind: 'create_role',
        user: 'rds_superuser_role',
        host: '',
        adopt: true,
        grants: [],
        roles: [],
        ...base,
      }),
  ],
  ['changing an account the YAML protects', () => batch(update('legacy_etl', [global('SELECT')]))],
  ['a seed payload for rdsadmin', () => seed('delete_user', 'rdsadmin')],
  ['a seed payload for root', () => seed('reset_password', 'root')],
  ['a user name with a control character', () => batch(create('x\u0007'))],
  ['a user name the server would cut at its trailing space', () => batch(create('x '))],
  [
    'a role host that is neither MariaDB nor MySQL',
    () =>
      batch({
        kind: 'create_role',
        user: 'r',
        host: 'localhost',
        adopt: false,
        grants: [],
        roles: [],
        ...base,
      }),
  ],
  [
    'a privilege the engine does not have at that level',
    () =>
      batch(
        create('x', { grants: [{ level: 'table', database: 'orders', table: 't', privilege: 'SUPER' }] }),
      ),
  ],
];

/** Read the server, then refused by the executor's own rules: nothing written. */
const BY_THE_GUARD: [string, () => unknown][] = [
  ['dropping the master user', () => batch(del('master'))],
  ['dropping the master user on another host', () => batch(del('master', '10.0.0.1'))],
  [
    "resetting the master's password into a secret the event names",
    () => batch(reset('master', 'attacker-readable')),
  ],
  ['adopting the master', () => batch(create('master', { adopt: true }))],
  ['a seed payload for the master', () => seed('reset_password', 'master')],
  ['dropping an account dbusers never created', () => batch(del('victim'))],
  [
    "giving a new user the secret that holds a managed user's password",
    () => batch(create('x', { secretName: 'rds-orders-app-secret' })),
  ],
  [
    'swapping the secret of a managed user by creating it again',
    () => batch(create('app', { secretName: 'rds-orders-victim-secret' })),
  ],
  [
    'making a managed password user an IAM user by creating it again',
    () => batch(create('app', { auth: 'iam', secretName: undefined })),
  ],
  ['changing the grants of an unmanaged account', () => batch(update('legacy', [global('SUPER')]))],
  [
    'granting SUPER to a foreign account',
    () => batch(update('victim', [global('SUPER'), onDb('orders', 'SELECT')])),
  ],
  ['resetting an unmanaged account', () => batch(reset('legacy', 'rds-orders-legacy-secret'))],
  ['dropping an unmanaged role', () => batch({ kind: 'drop_role', user: 'dba', host: '', ...base })],
  ['creating over an existing account without adopt', () => batch(create('victim'))],
  [
    'adopting an account that holds PROCESS on *.*',
    () => batch(create('legacy', { adopt: true, grants: [onDb('orders', 'SELECT')] })),
  ],
  [
    'a seed create_user over an account dbusers did not create',
    () => seed('create_user', 'victim', { role: 'admin' }),
  ],
  ['a seed delete_user of an account dbusers did not create', () => seed('delete_user', 'victim')],
  [
    'a seed update_grant of an account dbusers did not create',
    () => seed('update_grant', 'victim', { role: 'admin' }),
  ],
  ['a seed reset_password of an account dbusers did not create', () => seed('reset_password', 'victim')],
  ['granting SUPER', () => batch(create('x', { grants: [global('SUPER')] }))],
  ['granting FILE', () => batch(create('x', { grants: [global('FILE')] }))],
  ['granting SHUTDOWN', () => batch(create('x', { grants: [global('SHUTDOWN')] }))],
  ['granting PROCESS on *.*', () => batch(create('x', { grants: [global('PROCESS')] }))],
  ['granting CREATE USER on *.*', () => batch(create('x', { grants: [global('CREATE USER')] }))],
  ['granting GRANT OPTION on *.*', () => batch(create('x', { grants: [global('GRANT OPTION')] }))],
  ['granting UPDATE on *.* (the grant tables)', () => batch(create('x', { grants: [global('UPDATE')] }))],
  ['granting BINLOG ADMIN', () => batch(create('x', { grants: [global('BINLOG ADMIN')] }))],
  ['granting INSERT on mysql.*', () => batch(create('x', { grants: [onDb('mysql', 'INSERT')] }))],
  [
    'granting INSERT on the ownership registry',
    () =>
      batch(
        create('x', {
          grants: [{ level: 'table', database: '_dbusers', table: 'managed_accounts', privilege: 'INSERT' }],
        }),
      ),
  ],
  [
    'granting SELECT on performance_schema',
    () => batch(create('x', { grants: [onDb('performance_schema', 'SELECT')] })),
  ],
  [
    'granting on a pattern that matches mysql',
    () => batch(create('x', { grants: [onDb('m%', 'SELECT', 'm%')] })),
  ],
  ['granting SUPER to a managed account', () => batch(update('app', [global('SUPER')]))],
  ['granting a hand-made role that holds SUPER', () => batch(create('x', { roles: ['dba'] }))],
  ["writing a new user's password into the master secret", () => batch(create('x', { secretName: MASTER }))],
  [
    "resetting a managed user's password into another secret",
    () => batch(reset('app', 'rds-orders-x-secret')),
  ],
  [
    'dropping a managed user as if it were a role',
    () => batch({ kind: 'drop_role', user: 'app', host: '', ...base }),
  ],
];

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
    "CREATE USER 'master'@'10.0.0.1' IDENTIFIED BY 'other'",
    "CREATE USER 'rdsadmin'@'localhost' IDENTIFIED BY 'x'",
    "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY 'x'",
    "CREATE USER 'legacy'@'%' IDENTIFIED BY 'x'",
    "GRANT PROCESS ON *.* TO 'legacy'@'%'",
    "CREATE USER 'victim'@'%' IDENTIFIED BY 'x'",
    "GRANT SELECT ON orders.* TO 'victim'@'%'",
    "CREATE USER 'legacy_etl'@'%' IDENTIFIED BY 'x'",
    'CREATE ROLE dba',
    'GRANT SUPER ON *.* TO dba',
    'CREATE ROLE AWS_LOAD_S3_ACCESS',
  ])
    await admin.query(sql);
});

beforeEach(async () => {
  sm?.mock.restore();
  sm = fakeSecretsManager();
  sm.seed(MASTER, {
    engine: 'mariadb',
    host: server.spec.host,
    port: server.spec.port,
    username: 'master',
    password: 'master-pw',
  });
  sm.seed('prod/other', { username: 'someone', password: 'theirs' });
  // One legitimate batch first: the registry, its key and one managed account exist before the hostile ones.
  await handler()(batch(create('app', { grants: [onDb('orders', 'SELECT')] })) as never);
  sm.mock.resetHistory();
  recorder.sent.connects = 0;
  statements.length = 0;
});

afterAll(async () => {
  sm?.mock.restore();
  await admin?.close();
  await server?.stop();
});

describe('hostile events', () => {
  it('covers at least 60 events', () => {
    expect(BEFORE_ANY_CALL.length + BY_THE_GUARD.length).toBeGreaterThanOrEqual(60);
  });

  it.each(BEFORE_ANY_CALL)('refuses %s before any connection or AWS call', async (_, event) => {
    const before = await grantTables();
    await expect(handler()(event() as never)).rejects.toThrow(ExecutorEventError);
    expect(recorder.sent.connects).toBe(0);
    expect(statements).toEqual([]);
    expect(sm.mock.calls()).toHaveLength(0);
    expect(await grantTables()).toBe(before);
  });

  it.each(BY_THE_GUARD)('refuses %s after reading the server, and changes nothing', async (_, event) => {
    const before = await grantTables();
    const error = await handler()(event() as never).catch((e: unknown) => e);
    expect(error instanceof ExecutorEventError || error instanceof ExecutorFailedError, String(error)).toBe(
      true,
    );
    if (error instanceof ExecutorFailedError)
      expect(error.result.results.every((r) => r.status === 'refused')).toBe(true);
    expect(statements.filter((s) => CHANGES.test(s))).toEqual([]);
    expect(
      sm.mock
        .calls()
        .map((c) => c.args[0].constructor.name)
        .filter((n) => AWS_WRITES.test(n)),
    ).toEqual([]);
    expect(await grantTables()).toBe(before);
  });

  it('says what is wrong for the kind of event it means to be, not for every other kind', async () => {
    const refusal = (event: unknown) =>
      handler()(event as never).then(
        () => '',
        (e: Error) => e.message,
      );
    const badGrant = await refusal(batch(create('x', { grants: [{ level: 'global' }] })));
    expect(badGrant).toMatch(/^invalid event: batch: \/actions\/0\/grants\/0 /);
    expect(badGrant).toContain("/actions/0/grants/0 must have required property 'privilege'");
    expect(badGrant).not.toMatch(/username|Step|pieces/);
    expect(await refusal(seed('create_user', 'x y'))).toMatch(
      /^invalid event: seed single action: \/username must match/,
    );
    expect(await refusal({ Step: 'createSecret' })).toMatch(
      /^invalid event: Secrets Manager rotation step .*must have required property 'SecretId'/,
    );
    expect(await refusal({ hello: 'world' })).toMatch(
      /^invalid event: not an event this executor knows; expected one of: seed single action; batch; /,
    );
    expect(recorder.sent.connects).toBe(0);
  });

  it('acts on what the rules allow in a mixed batch, and refuses the rest', async () => {
    const error = (await handler()(
      batch(create('fresh', { grants: [onDb('orders', 'SELECT')] }), del('victim')) as never,
    ).catch((e: unknown) => e)) as ExecutorFailedError;
    expect(error).toBeInstanceOf(ExecutorFailedError);
    expect((error.result as BatchResult).results.map((r) => r.status)).toEqual(['ok', 'refused']);
    const rows = await admin.query<{ User: string }>(
      "SELECT User FROM mysql.global_priv WHERE User IN ('fresh', 'victim') ORDER BY User",
    );
    expect(rows.map((r) => r.User)).toEqual(['fresh', 'victim']);
  });

  it('never writes a password into a secret dbusers did not make: the action fails before any password is set', async () => {
    const before = await grantTables();
    const error = (await handler()(batch(create('x', { secretName: 'prod/other' })) as never).catch(
      (e: unknown) => e,
    )) as ExecutorFailedError;
    expect(error.result.results[0]).toMatchObject({
      status: 'failed',
      message: expect.stringMatching(/was not made by dbusers for this cluster/),
    });
    expect(
      sm.mock
        .calls()
        .map((c) => c.args[0].constructor.name)
        .filter((n) => AWS_WRITES.test(n)),
    ).toEqual([]);
    expect(JSON.parse([...sm.secrets.get('prod/other')!.versions.values()][0]!.value)).toEqual({
      username: 'someone',
      password: 'theirs',
    });
    expect(await grantTables()).toBe(before);
  });

  it('does not honour a registry row inserted by hand: the account it names is left alone', async () => {
    await admin.query(
      "INSERT INTO _dbusers.managed_accounts (user, host, kind, owner) VALUES ('victim', '%', 'user', '111122223333/orders')",
    );
    const before = await grantTables();
    const error = (await handler()(batch(del('victim')) as never).catch(
      (e: unknown) => e,
    )) as ExecutorFailedError;
    expect(error.result.results[0]).toMatchObject({
      status: 'refused',
      message: expect.stringMatching(/not an account dbusers manages/),
    });
    expect(await grantTables()).toBe(before);
    // The reconciler sends the cluster as users/ declares it, onDigestMismatch included.
    const state = (await handler()({
      action: 'inspect',
      target: { ...cluster(), onDigestMismatch: 'refuse' },
    } as never)) as {
      owned: { user: string }[];
      unverifiedClaims: { user: string }[];
    };
    expect(state.owned.map((o) => o.user)).not.toContain('victim');
    expect(state.unverifiedClaims).toContainEqual({ user: 'victim', host: '%' });
    await admin.query("DELETE FROM _dbusers.managed_accounts WHERE user = 'victim'");
  });

  it('grants and revokes only the roles its own account holds WITH ADMIN OPTION (MariaDB): refused before any statement until then', async () => {
    // Made by root: the master ('master'@'%', ALL PRIVILEGES WITH GRANT OPTION) holds neither role.
    for (const sql of [
      'CREATE ROLE legacy_reader',
      'GRANT SELECT ON audit.* TO legacy_reader',
      'CREATE ROLE legacy_ops',
      "CREATE USER 'heir'@'%' IDENTIFIED BY 'x'",
      'GRANT legacy_ops TO heir',
    ])
      await admin.query(sql);
    const adoptRole = {
      kind: 'create_role',
      user: 'legacy_reader',
      host: '',
      adopt: true,
      roles: [],
      ...base,
    };
    await handler()(batch({ ...adoptRole, grants: [onDb('audit', 'SELECT')] }) as never);
    // Granting the adopted role to a new user, and adopting a user who holds a role not declared (revoked).
    const risky = batch(create('reader', { roles: ['legacy_reader'] }), create('heir', { adopt: true }));
    const before = await grantTables();
    statements.length = 0;
    const error = (await handler()(risky as never).catch((e: unknown) => e)) as ExecutorFailedError;
    expect(error).toBeInstanceOf(ExecutorFailedError);
    expect(error.result.results.map((r) => [r.status, r.message])).toEqual([
      [
        'refused',
        expect.stringContaining(
          "refused: 'master'@'%', the account dbusers connects as, does not hold role legacy_reader WITH ADMIN OPTION, which MariaDB requires to grant or revoke it: have an account that holds it so run GRANT legacy_reader TO 'master'@'%' WITH ADMIN OPTION, or make this change by hand",
        ),
      ],
      ['refused', expect.stringContaining('does not hold role legacy_ops WITH ADMIN OPTION')],
    ]);
    expect(statements.filter((s) => CHANGES.test(s))).toEqual([]);
    expect(await grantTables()).toBe(before);

    // Held WITH ADMIN OPTION through a role the master holds: MariaDB follows the role graph, and so does the executor.
    for (const sql of [
      'CREATE ROLE keyholder',
      'GRANT legacy_reader TO keyholder WITH ADMIN OPTION',
      'GRANT legacy_ops TO keyholder WITH ADMIN OPTION',
      "GRANT keyholder TO 'master'@'%'",
    ])
      await admin.query(sql);
    const done = (await handler()(risky as never)) as BatchResult;
    expect(done.results.map((r) => r.status)).toEqual(['ok', 'ok']);
    expect(
      await admin.query("SELECT User, Role FROM mysql.roles_mapping WHERE User IN ('reader', 'heir')"),
    ).toEqual([{ User: 'reader', Role: 'legacy_reader' }]);
    const secret = [...sm.secrets.get('rds-orders-reader-secret')!.versions.values()].find((v) =>
      v.stages.includes('AWSCURRENT'),
    )!;
    const reader = await loginAs(server, 'reader', JSON.parse(secret.value).password);
    expect(await allowed(reader, 'SELECT * FROM audit.t')).toBe(true);
    expect(await allowed(reader, 'SELECT * FROM orders.t')).toBe(false);
    await reader.close();

    await handler()(
      batch(del('reader'), del('heir'), {
        kind: 'drop_role',
        user: 'legacy_reader',
        host: '',
        ...base,
      }) as never,
    );
    for (const sql of ['DROP ROLE keyholder', 'DROP ROLE legacy_ops']) await admin.query(sql);
  });
});
