/**
 * Random batches against the executor handler on a real MariaDB, most of them hostile: every action
 * kind on protected accounts, accounts made by hand, another cluster's accounts and our own, with
 * grants the policy refuses, roles nobody may grant, master and foreign secrets, adoptions; the
 * seed's own payloads; and rotation steps in any order, on any secret, with any token. Whatever each event did, the
 * executor's rules hold after it, read from the grant tables themselves:
 *
 * - a protected account's rows never change;
 * - an account this cluster did not own changes only when the batch adopted it (adopt: true);
 * - no account this cluster owns gains a role this cluster does not own;
 * - the master secret and a secret dbusers did not make are never written;
 * - every managed user's password is in its secret's current or pending version, whose current
 *   version names that user, and no secret is named by two accounts;
 * - no action fails on the server's "Access denied": what the server refuses, the executor refuses first;
 * - only the handler's own errors are thrown, and no statement holds a password in clear.
 *
 * Seeded: DBUSERS_HOSTILE_SEED and DBUSERS_HOSTILE_STEPS reproduce a run.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Database } from '../../reconciler/src/adapters/mysql/database.js';
import {
  ExecutorEventError,
  ExecutorFailedError,
  makeExecutorHandler,
} from '../../reconciler/src/handlers/executor.js';
import { awsExecutorDeps } from '../../reconciler/src/handlers/executor-lambda.js';
import { SecretStoreError } from '../../reconciler/src/adapters/aws/secrets-manager.js';
import { PasswordError } from '../../reconciler/src/execute/password.js';
import { RotationError } from '../../reconciler/src/execute/rotation.js';
import type { BatchResult } from '../../reconciler/src/model/batch.js';
import { fakeSecretsManager } from '../support/fake-secrets-manager.js';
import { ordersCluster } from '../support/fixtures.js';
import { RDS_MARIADB_MASTER, recordingConnect, startTestServer, type TestServer } from '../support/server.js';
import { seeded } from '../support/random.js';

let server: TestServer;
let admin: Database;
let sm: ReturnType<typeof fakeSecretsManager>;
const recorder = recordingConnect();
const statements = recorder.sent.statements;
const MASTER = 'orders-master';
const FOREIGN = 'prod/other';

const { random, one, some } = seeded(Number(process.env.DBUSERS_HOSTILE_SEED ?? 20261206));

/** Two clusters on one server: ours (orders), and billing, whose accounts are never ours. */
const clusters = () => {
  const on = { endpoint: server.spec.host, port: server.spec.port, masterSecretArn: MASTER };
  return [
    {
      ...ordersCluster,
      ...on,
      protectedAccounts: ['legacy_etl'],
      privilegeExceptions: [
        { user: 'app', target: { level: 'global' }, privileges: ['PROCESS'], reason: 'metrics' },
      ],
    },
    { ...ordersCluster, ...on, name: 'billing' },
  ];
};

const handler = () =>
  makeExecutorHandler(
    awsExecutorDeps({
      secretsClient: sm.client,
      connect: recorder.connect,
      env: { DBUSERS_CLUSTERS: JSON.stringify(clusters()) },
    }),
  );

/** Protected on every run: built in, the master, the YAML's `protected`, and the anonymous user. */
const PROTECTED = [
  "'legacy_etl'@'%'",
  "'master'@'%'",
  "'master'@'10.0.0.1'",
  "'rdsadmin'@'localhost'",
  "'root'@'localhost'",
  "'mariadb.sys'@'localhost'",
  "'AWS_LOAD_S3_ACCESS'@''",
  "'PUBLIC'@''",
  "''@'anon.example'",
];
const USERS: [string, string][] = [
  ['app', '%'],
  ['app', 'localhost'],
  ['fresh', '%'],
  ['fresh', '10.0.0.%'],
  ['victim', '%'],
  ['legacy', '%'],
  ['legacy_etl', '%'],
  ['master', '%'],
  ['master', '10.0.0.1'],
  ['rdsadmin', 'localhost'],
  ['root', 'localhost'],
  ['mariadb.sys', 'localhost'],
  ['other', '%'],
  ['', 'anon.example'],
];
const ROLES = ['orole', 'nrole', 'dba', 'AWS_LOAD_S3_ACCESS', 'PUBLIC', 'obrole', 'none'];
const SECRETS = [
  'rds-orders-app',
  'rds-orders-fresh',
  'rds-orders-new',
  MASTER,
  FOREIGN,
  'rds-billing-other',
  `arn:aws:secretsmanager:eu-west-1:111122223333:secret:${MASTER}`,
];
const GRANTS = [
  { level: 'global', privilege: 'SELECT' },
  { level: 'global', privilege: 'PROCESS' },
  { level: 'global', privilege: 'SUPER' },
  { level: 'global', privilege: 'CREATE USER' },
  { level: 'global', privilege: 'GRANT OPTION' },
  { level: 'global', privilege: 'FILE' },
  { level: 'global', privilege: 'SET USER' },
  { level: 'database', database: 'orders', privilege: 'SELECT' },
  { level: 'database', database: 'orders', privilege: 'GRANT OPTION' },
  { level: 'database', database: 'mysql', privilege: 'SELECT' },
  { level: 'database', database: 'MySQL', privilege: 'UPDATE' },
  { level: 'database', database: '_dbusers', privilege: 'DELETE' },
  { level: 'database', database: 'x', pattern: '%', privilege: 'SELECT' },
  { level: 'database', database: 'x', pattern: 'm_sql', privilege: 'INSERT' },
  { level: 'database', database: 'orders', privilege: 'PROXY' },
  { level: 'table', database: 'orders', table: 't', privilege: 'INSERT' },
  { level: 'table', database: 'mysql', table: 'user', privilege: 'UPDATE' },
  { level: 'column', database: 'orders', table: 't', column: 'id', privilege: 'UPDATE' },
  { level: 'column', database: 'mysql', table: 'global_priv', column: 'Priv', privilege: 'UPDATE' },
  { level: 'routine', database: 'orders', routine: 'p', routineType: 'PROCEDURE', privilege: 'EXECUTE' },
];
/** What the policy allows: most batches mix these with the rest, so some actions get through. */
const ALLOWED = GRANTS.filter(
  (g) =>
    (g.database === 'orders' && g.privilege !== 'PROXY') ||
    g.privilege === 'SELECT' ||
    g.privilege === 'PROCESS',
);

/** One action: a plausible one (our accounts, allowed grants) six times in ten, else anything. */
function randomAction(): Record<string, unknown> {
  const plausible = random() < 0.6;
  const kind = one([
    'create_user',
    'create_user',
    'create_role',
    'update_grant',
    'update_grant',
    'reset_password',
    'delete_user',
    'drop_role',
  ]);
  const isRole =
    kind === 'create_role' || kind === 'drop_role' || (kind === 'update_grant' && random() < 0.3);
  const [user, host] = isRole
    ? [one(plausible ? ['orole', 'nrole', 'victim'] : ROLES), plausible ? '' : one(['', '%'])]
    : one(plausible ? USERS.slice(0, 6) : USERS);
  const roles = some(plausible ? ['orole', 'nrole'] : ROLES, 0.3).filter((r) => r !== user);
  const admin = some(roles, 0.4);
  const memberships = { roles, ...(admin.length ? { adminRoles: admin } : {}) };
  const grants = some(plausible ? ALLOWED : GRANTS, 0.12);
  const secretName = plausible ? `rds-orders-${user}` : one(SECRETS);
  const base = { kind, user, host, reason: 'random' };
  switch (kind) {
    case 'create_user':
      return {
        ...base,
        auth: one(['password', 'password', 'iam']),
        adopt: random() < 0.5,
        secretName,
        grants,
        ...memberships,
      };
    case 'create_role':
      return { ...base, adopt: random() < 0.5, grants, ...memberships };
    case 'update_grant':
      return {
        ...base,
        accountKind: isRole ? 'role' : 'user',
        grants,
        ...memberships,
        before: { grants: [], roles: [] },
      };
    case 'reset_password':
      return { ...base, secretName };
    case 'delete_user':
      return random() < 0.5 ? { ...base, secretName } : base;
    default:
      return base;
  }
}

/** Tokens a rotation step may name besides the secret's own versions. */
const TOKENS = [1, 2, 3].map((n) => `a1b2c3d4-0000-4000-8000-00000000000${n}`);

/** A rotation step of any kind, on any secret, naming one of its versions or another token. */
function randomRotationStep(): { Step: string; SecretId: string; ClientRequestToken: string } {
  // Mostly the secrets dbusers made (a step on any other is refused at once), sometimes any.
  const made = [...sm.secrets.values()].filter((x) => x.tags.some((t) => t.Key === 'dbusers:cluster'));
  const SecretId = made.length > 0 && random() < 0.7 ? one(made).name : one(SECRETS.slice(0, 6));
  const versions = [...(sm.secrets.get(SecretId)?.versions ?? [])];
  // Most often the version a createSecret left pending, whose password the server may not hold yet.
  const pending = versions.filter(([, v]) => v.stages.includes('AWSPENDING')).map(([id]) => id);
  const token =
    pending.length > 0 && random() < 0.5
      ? pending[0]!
      : versions.length > 0 && random() < 0.5
        ? one(versions)[0]
        : one(TOKENS);
  return {
    Step: one(['createSecret', 'setSecret', 'testSecret', 'finishSecret']),
    SecretId,
    ClientRequestToken: token,
  };
}

/** A payload of the seed's own automation, as people send it through the SSM console. */
function randomSeedEvent(): Record<string, string> {
  return {
    username: one(['app', 'fresh', 'victim', 'legacy', 'legacy_etl', 'master', 'root', 'other', 'seeded']),
    role: one(['readonly', 'readwrite', 'admin', '']),
    rds_secret_name: one([MASTER, FOREIGN, `arn:aws:secretsmanager:eu-west-1:111122223333:secret:${MASTER}`]),
    db_name: one(['orders', 'orders', 'mysql', '_dbusers']),
    action: one(['create_user', 'update_grant', 'reset_password', 'delete_user']),
  };
}

/** The password hash the server holds for each account dbusers made with a secret, by secret name. */
async function heldPasswords(): Promise<{ account: string; user: string; secret: string; hash: string }[]> {
  return admin.query(
    `SELECT CONCAT("'", m.user, "'@'", m.host, "'") AS account, m.user, m.secret_name AS secret,
       JSON_VALUE(p.Priv, '$.authentication_string') AS hash
     FROM _dbusers.managed_accounts m JOIN mysql.global_priv p ON p.User = m.user AND p.Host = m.host
     WHERE m.secret_name IS NOT NULL`,
  );
}

/** Each account's rows in the grant tables, by 'user'@'host' (roles_mapping rows under the grantee). */
async function grantRows(): Promise<Map<string, string[]>> {
  const rows = new Map<string, string[]>();
  const add = (user: unknown, host: unknown, row: unknown) => {
    const key = `'${user}'@'${host}'`;
    rows.set(key, [...(rows.get(key) ?? []), JSON.stringify(row)].sort());
  };
  for (const r of await admin.query<Record<string, unknown>>(
    'SELECT User, Host, Priv FROM mysql.global_priv',
  )) {
    // The password's timestamp aside: a password reset of our own account is not what is compared here.
    const { password_last_changed: _, ...priv } = JSON.parse(String(r.Priv));
    add(r.User, r.Host, priv);
  }
  for (const t of ['db', 'tables_priv', 'columns_priv', 'procs_priv', 'roles_mapping'])
    for (const r of await admin.query<Record<string, unknown>>(`SELECT * FROM mysql.${t}`)) {
      const { Timestamp: _, ...row } = r;
      add(r.User, r.Host, { t, ...row });
    }
  return rows;
}

/** The registry's owner of each account, by 'user'@'host'. */
async function owners(): Promise<Map<string, string>> {
  const rows = await admin.query<Record<string, unknown>>(
    'SELECT user, host, owner FROM _dbusers.managed_accounts',
  );
  return new Map(rows.map((r) => [`'${r.user}'@'${r.host}'`, String(r.owner)]));
}

const versions = (name: string) => JSON.stringify([...sm.secrets.get(name)!.versions.values()]);

beforeAll(async () => {
  server = await startTestServer();
  admin = await server.admin();
  for (const sql of [
    'CREATE DATABASE orders',
    'CREATE TABLE orders.t (id INT)',
    'CREATE PROCEDURE orders.p() SELECT 1',
    "CREATE USER 'master'@'%' IDENTIFIED BY 'master-pw'",
    // The master holds what the RDS for MariaDB master holds, and no more.
    `GRANT ${RDS_MARIADB_MASTER} ON *.* TO 'master'@'%' WITH GRANT OPTION`,
    "CREATE USER 'master'@'10.0.0.1' IDENTIFIED BY 'other'",
    "CREATE USER 'rdsadmin'@'localhost' IDENTIFIED BY 'x'",
    "CREATE USER 'legacy'@'%' IDENTIFIED BY 'x'",
    "GRANT PROCESS ON *.* TO 'legacy'@'%'",
    "CREATE USER 'victim'@'%' IDENTIFIED BY 'x'",
    "GRANT SELECT ON orders.* TO 'victim'@'%'",
    "CREATE USER 'legacy_etl'@'%' IDENTIFIED BY 'x'",
    "CREATE USER ''@'anon.example'",
    // Made by root: the master holds neither WITH ADMIN OPTION.
    'CREATE ROLE dba',
    'GRANT SUPER ON *.* TO dba',
    "GRANT dba TO 'victim'@'%'",
    'CREATE ROLE AWS_LOAD_S3_ACCESS',
  ])
    await admin.query(sql);
  sm = fakeSecretsManager();
  sm.seed(MASTER, {
    engine: 'mariadb',
    host: server.spec.host,
    port: server.spec.port,
    username: 'master',
    password: 'master-pw',
  });
  sm.seed(FOREIGN, { username: 'someone', password: 'theirs' });
  const [orders, billing] = clusters();
  const role = (user: string, extra = {}) => ({
    kind: 'create_role',
    user,
    host: '',
    adopt: false,
    grants: [],
    roles: [],
    reason: 'setup',
    ...extra,
  });
  const user = (name: string, secretName: string, extra = {}) => ({
    kind: 'create_user',
    user: name,
    host: '%',
    auth: 'password',
    adopt: false,
    secretName,
    grants: [],
    roles: [],
    reason: 'setup',
    ...extra,
  });
  await handler()({
    action: 'batch',
    target: orders,
    actions: [
      role('orole', { grants: [{ level: 'database', database: 'orders', privilege: 'SELECT' }] }),
      user('app', 'rds-orders-app', { roles: ['orole'] }),
    ],
  } as never);
  await handler()({
    action: 'batch',
    target: billing,
    actions: [role('obrole'), user('other', 'rds-billing-other')],
  } as never);
});

afterAll(async () => {
  sm?.mock.restore();
  await admin?.close();
  await server?.stop();
});

it('random hostile batches and rotation steps leave every rule of the executor standing', async () => {
  const steps = Number(process.env.DBUSERS_HOSTILE_STEPS ?? 200);
  const secretsBefore = [versions(MASTER), versions(FOREIGN)];
  const statuses = new Set<string>();
  for (let step = 0; step < steps; step++) {
    const [orders, billing] = clusters();
    const target = random() < 0.85 ? orders! : billing!;
    const dice = random();
    const rotation = dice < 0.4 ? randomRotationStep() : undefined;
    const seeded = dice >= 0.4 && dice < 0.55 ? randomSeedEvent() : undefined;
    const actions =
      rotation || seeded ? [] : Array.from({ length: 1 + Math.floor(random() * 3) }, randomAction);
    // A rotation step acts on the cluster its secret was made for, whichever that is.
    const madeFor =
      rotation && sm.secrets.get(rotation.SecretId)?.tags.find((t) => t.Key === 'dbusers:cluster');
    // A seed payload goes to the first cluster whose master secret it names: orders.
    const ours = `${target.account}/${rotation ? madeFor?.Value : seeded ? 'orders' : target.name}`;
    const [rowsBefore, ownersBefore] = [await grantRows(), await owners()];
    statements.length = 0;
    const event = rotation ?? seeded ?? { action: 'batch', target, actions };
    const outcome = await handler()(event as never).then(
      (result) => result as BatchResult,
      (error: unknown) => error as Error,
    );
    const [rowsAfter, ownersAfter] = [await grantRows(), await owners()];
    const context = `step ${step}: ${JSON.stringify(event)}\n${statements.join('\n')}`;

    const expected = [
      ExecutorEventError,
      ExecutorFailedError,
      RotationError,
      PasswordError,
      SecretStoreError,
    ];
    if (outcome instanceof Error && !expected.some((e) => outcome instanceof e))
      throw new Error(`${context}\n${outcome.stack}`);
    const results =
      outcome instanceof ExecutorFailedError
        ? outcome.result.results
        : outcome instanceof Error
          ? []
          : outcome.results;
    for (const r of results) statuses.add(r.status);
    // What the server refuses for want of a privilege is a rule the executor checks first, before any statement.
    expect(
      results.filter((r) => /Access denied/.test(r.message ?? '')),
      context,
    ).toEqual([]);

    const isOurs = (key: string) => ownersBefore.get(key) === ours || ownersAfter.get(key) === ours;
    /** A roles_mapping row that grants one of our roles, or is held by one of our accounts. */
    const ourMapping = (row: string) => {
      const r = JSON.parse(row) as { t?: string; Role?: string; User: string; Host: string };
      return r.t === 'roles_mapping' && (isOurs(`'${r.Role}'@''`) || isOurs(`'${r.User}'@'${r.Host}'`));
    };
    for (const key of new Set([...rowsBefore.keys(), ...rowsAfter.keys()])) {
      const before = rowsBefore.get(key) ?? [];
      const after = rowsAfter.get(key) ?? [];
      const changed = [
        ...after.filter((r) => !before.includes(r)),
        ...before.filter((r) => !after.includes(r)),
      ];
      // Dropping or granting one of our roles changes the mapping rows of whoever holds it (the master, who made it).
      if (changed.every(ourMapping)) continue;
      expect(PROTECTED, `protected ${key} changed\n${context}`).not.toContain(key);
      const adopted =
        !ownersBefore.has(key) &&
        ownersAfter.get(key) === ours &&
        actions.some(
          (a) => String(a.kind).startsWith('create') && `'${a.user}'@'${a.host}'` === key && a.adopt === true,
        );
      const madeNow = before.length === 0 && ownersAfter.get(key) === ours;
      expect(
        ownersBefore.get(key) === ours || adopted || madeNow,
        `${key}, not ours, changed\n${context}`,
      ).toBe(true);
    }
    for (const [key, rows] of rowsAfter) {
      if (ownersAfter.get(key) !== ours) continue;
      for (const row of rows) {
        const r = JSON.parse(row) as { t?: string; Role?: string };
        if (r.t !== 'roles_mapping') continue;
        const role = `'${r.Role}'@''`;
        // A role we do not own may stay where it was (an adoption that left it is refused), never be added.
        if (!isOurs(role))
          expect(rowsBefore.get(key) ?? [], `${key} gained ${role}\n${context}`).toContain(row);
      }
    }
    expect([versions(MASTER), versions(FOREIGN)], context).toEqual(secretsBefore);
    // One secret, one account: no two registry rows name the same secret.
    expect(
      await admin.query(
        'SELECT secret_name FROM _dbusers.managed_accounts WHERE secret_name IS NOT NULL GROUP BY secret_name HAVING COUNT(*) > 1',
      ),
      `a secret named by two accounts\n${context}`,
    ).toEqual([]);
    // No password that no secret holds: the server's is the current or the pending version's, and
    // the current version names the account's user (a client logs in as the one it means to).
    for (const { account, user, secret, hash } of await heldPasswords()) {
      const kept = [...(sm.secrets.get(secret)?.versions.values() ?? [])].filter((v) =>
        v.stages.some((stage) => stage === 'AWSCURRENT' || stage === 'AWSPENDING'),
      );
      const current = kept.find((v) => v.stages.includes('AWSCURRENT'));
      if (current) expect(JSON.parse(current.value).username, `${account}: ${secret}\n${context}`).toBe(user);
      const hashes = [];
      for (const v of kept)
        hashes.push(
          (await admin.query<{ h: string }>('SELECT PASSWORD(?) AS h', [JSON.parse(v.value).password]))[0]!.h,
        );
      expect(
        hashes,
        `${account}: its password is in no current or pending version of ${secret}\n${context}`,
      ).toContain(hash);
    }
    expect(statements.join('\n'), context).not.toMatch(/IDENTIFIED BY '|PASSWORD\('/i);
  }
  // The batches were not all refused: some actions ran, so the rules were tried on real changes.
  expect([...statuses].sort()).toEqual(expect.arrayContaining(['ok', 'refused']));
}, 300_000);
