/**
 * Random declared states on a real MariaDB, applied as the RDS for MariaDB master would apply them
 * (its privileges and no more), one after another with drift made by hand in
 * between: every grant shape, role membership with and without the admin option or default, users
 * coming and going. After each apply the re-plan is empty, and the server holds exactly what a fresh
 * server given only that YAML holds (every SHOW GRANTS line and default role), so no transition
 * leaves a trace of the state before it. Seeded: DBUSERS_TRANSITIONS_SEED and _STEPS reproduce a run.
 */
import { afterAll, beforeAll, it } from 'vitest';
import { expectConverged, rdsServer, type RdsServer } from '../support/server.js';
import { seeded } from '../support/random.js';

const SCHEMA = [
  'CREATE DATABASE app',
  'CREATE DATABASE app1',
  'CREATE DATABASE app2',
  'CREATE DATABASE app_x',
  'CREATE TABLE app.t (a INT, b INT, c INT)',
  'CREATE TABLE app.`we.ird` (`c``1` INT, `c 2` INT)',
  'CREATE TABLE app1.t (id INT)',
  'CREATE TABLE app2.t (id INT)',
  'CREATE TABLE app_x.t (id INT)',
  'CREATE PROCEDURE app.p() SELECT 1',
  'CREATE PROCEDURE app.`p q`() SELECT 1',
  'CREATE FUNCTION app.f() RETURNS INT RETURN 1',
];

/** Grants a state draws from: every level, the grant option, patterns, columns, odd names. */
const GRANTS = [
  '{ on: "app.*", privileges: [SELECT] }',
  '{ on: "app.*", privileges: [SELECT, INSERT], withGrantOption: true }',
  '{ on: "app.*", privileges: [USAGE], withGrantOption: true }',
  '{ on: "app%.*", pattern: true, privileges: [SELECT] }',
  '{ on: "app_.*", pattern: true, privileges: [UPDATE] }',
  "{ on: 'app\\_x.*', pattern: true, privileges: [DELETE] }",
  '{ on: "app_x.*", privileges: [SELECT] }',
  '{ on: "app.t", privileges: [INSERT] }',
  '{ on: "app.t", privileges: [UPDATE, DELETE], withGrantOption: true }',
  '{ on: "app.t", privileges: [USAGE], withGrantOption: true }',
  '{ on: "app.t", columns: [a, b], privileges: [INSERT] }',
  '{ on: "app.t", columns: [b], privileges: [SELECT, UPDATE] }',
  '{ on: "app.t", columns: [a], privileges: [INSERT], withGrantOption: true }',
  '{ on: "app.`we.ird`", columns: ["c`1", "c 2"], privileges: [INSERT] }',
  '{ on: "PROCEDURE app.p", privileges: [EXECUTE] }',
  '{ on: "PROCEDURE app.`p q`", privileges: [EXECUTE] }',
  '{ on: "FUNCTION app.f", privileges: [EXECUTE, ALTER ROUTINE], withGrantOption: true }',
  '{ on: "*.*", privileges: [SHOW DATABASES, EXECUTE] }',
  '{ database: app1, profile: readwrite }',
  '{ database: app2, profile: admin }',
  '{ on: "app1.t", privileges: [SELECT, INSERT] }',
];

/** What a DBA might do by hand between two runs, to any of the accounts. */
const DRIFT = [
  'GRANT SELECT ON app.* TO {who}',
  'GRANT INSERT (c) ON app.t TO {who}',
  'GRANT UPDATE ON app.t TO {who} WITH GRANT OPTION',
  'GRANT SELECT ON `app%`.* TO {who}',
  'GRANT SHOW DATABASES ON *.* TO {who}',
  'REVOKE ALL PRIVILEGES, GRANT OPTION FROM {who}',
  'REVOKE INSERT ON app.t FROM {who}',
  'REVOKE SELECT (b) ON app.t FROM {who}',
  'GRANT r1 TO {who}',
  'GRANT r2 TO {who} WITH ADMIN OPTION',
  'REVOKE r1 FROM {who}',
  'SET DEFAULT ROLE NONE FOR {who}',
  'SET DEFAULT ROLE r2 FOR {who}',
  'GRANT USAGE ON app1.* TO {who} WITH GRANT OPTION',
  // An account made by hand, which a state may adopt.
  "CREATE USER IF NOT EXISTS 'fc'@'%' IDENTIFIED BY 'by hand'",
  "GRANT SELECT, INSERT ON app.* TO 'fc'@'%'",
];
const ACCOUNTS = ["'fa'@'%'", "'fa'@'10.0.0.%'", "'fb'@'%'", 'r1', 'r2'];

const { random, one, some } = seeded(Number(process.env.DBUSERS_TRANSITIONS_SEED ?? 20261206));
const list = (entries: string[], indent: string) =>
  entries.length ? entries.map((e) => `\n${indent}- ${e}`).join('') : ' []';

/** The roles a user holds: each with or without the admin option, at most one default (MariaDB). */
function heldRoles(roles: readonly string[]): string[] {
  let defaults = 0;
  return some(roles, 0.5).map((name) => {
    const isDefault = defaults === 0 && random() < 0.6;
    if (isDefault) defaults++;
    const admin = random() < 0.3;
    if (isDefault && !admin) return name;
    return `{ name: ${name}${admin ? ', admin: true' : ''}${isDefault ? '' : ', default: false'} }`;
  });
}

/**
 * One random declared state of two users (one on two hosts), up to two roles, and sometimes `fc`,
 * adopted when made by hand, created otherwise.
 */
function randomState(): string {
  const roles = some(['r1', 'r2'], 0.7);
  let yaml = `account: "555566667777"
alias: moves
clusters:
  - { name: main, region: eu-west-1, engine: mariadb, engineVersion: "10.11", endpoint: db.example.com, port: 3306, masterSecretArn: "arn:aws:secretsmanager:eu-west-1:555566667777:secret:m", databases: [app, app1, app2, app_x] }
privilegeExceptions:
  - { account: fa, on: "*.*", privileges: [PROCESS], reason: "the metrics agent reads the process list" }
`;
  if (roles.length) yaml += 'roles:\n';
  for (const name of roles) {
    const held = name === 'r2' && roles.includes('r1') ? some(['r1'], 0.5) : [];
    yaml += `  ${name}:\n    grants:${list(some(GRANTS, 0.15), '      ')}\n    roles: [${held.join(', ')}]\n`;
  }
  yaml += 'users:\n';
  for (const [name, host] of [
    ['fa', '%'],
    ['fa', '10.0.0.%'],
    ['fb', '%'],
    ['fc', '%'],
  ] as const) {
    if (random() < (name === 'fc' ? 0.6 : 0.15)) continue;
    const grants = some(GRANTS, 0.25);
    if (name === 'fa' && random() < 0.3) grants.push('{ on: "*.*", privileges: [PROCESS] }');
    yaml += `  - name: ${name}
    host: "${host}"
    cluster: main
    secretName: moves-${name}-${host === '%' ? 'any' : 'net'}
    grants:${list(grants, '      ')}
    roles: [${heldRoles(roles).join(', ')}]
    adopt: ${name === 'fc'}
`;
  }
  // Now and then no user at all: an empty list, not null.
  return yaml.endsWith('users:\n') ? `${yaml.slice(0, -1)} []\n` : yaml;
}

/** The accounts a state declares: fc made by hand and not declared is not ours, and a fresh server has none. */
function declaredNames(yaml: string): string[] {
  return ['fa', 'fb', 'r1', 'r2', ...(yaml.includes('name: fc') ? ['fc'] : [])];
}

let main: RdsServer;

beforeAll(async () => {
  main = await rdsServer(SCHEMA);
});

afterAll(async () => {
  await main?.stop();
});

// Each step starts a server of its own: minutes on a slow machine, not the default 60 s.
it('random transitions with drift between them converge in one apply, to what a fresh server holds', async () => {
  const steps = Number(process.env.DBUSERS_TRANSITIONS_STEPS ?? 10);
  for (let step = 0; step < steps; step++) {
    const yaml = randomState();
    const drift = step > 0 ? one(DRIFT).replace('{who}', one(ACCOUNTS)) : undefined;
    // Some drift names a role or grant the state does not hold: the server refuses it, and that is fine.
    if (drift) await main.admin.query(drift).catch(() => undefined);
    const context = `step ${step}, after ${drift ?? 'nothing'}:\n${yaml}`;

    await expectConverged(main, { 'users/moves.yaml': yaml }, context, {
      schema: SCHEMA,
      names: declaredNames(yaml),
    });
  }
}, 300_000);
