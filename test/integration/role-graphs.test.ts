/**
 * Random role graphs on a real MariaDB, applied as the RDS for MariaDB master would apply them (its
 * privileges and no more), one after another with role memberships changed by
 * hand in between: five roles, each holding any of those below it in a random order (so edges turn
 * around between states), with or without the admin option, and a user holding some of them, one
 * default. After each apply the re-plan is empty; every tenth state is compared with a fresh server
 * given only that YAML (every SHOW GRANTS line and default role). Seeded: DBUSERS_ROLE_GRAPHS_SEED
 * and _STEPS reproduce a run.
 */
import { afterAll, beforeAll, it } from 'vitest';
import { expectConverged, rdsServer, type RdsServer } from '../support/server.js';
import { seeded } from '../support/random.js';

/** Each role grants one privilege of its own on app.*, so SHOW GRANTS tells them apart. */
const ROLES = { ra: 'SELECT', rb: 'INSERT', rc: 'UPDATE', rd: 'DELETE', re: 'CREATE' } as const;
const NAMES = Object.keys(ROLES) as (keyof typeof ROLES)[];

const { random, one, some } = seeded(Number(process.env.DBUSERS_ROLE_GRAPHS_SEED ?? 20261206));

/** A random acyclic graph: the declared roles in a random order, each holding some of those after it. */
function randomState(): string {
  const declared = some(NAMES, 0.8);
  const order = declared
    .map((name) => ({ name, at: random() }))
    .sort((a, b) => a.at - b.at)
    .map((r) => r.name);
  const roles = order.map((name, i) => {
    const held = some(order.slice(i + 1), 0.35).map((r) =>
      random() < 0.3 ? `{ name: ${r}, admin: true }` : r,
    );
    return `  ${name}: { grants: [{ on: "app.*", privileges: [${ROLES[name]}] }], roles: [${held.join(', ')}] }\n`;
  });
  const held = some(declared, 0.4).map((r, i) => (i === 0 ? r : `{ name: ${r}, default: false }`));
  return `account: "555566667777"
alias: graphs
clusters:
  - { name: main, region: eu-west-1, engine: mariadb, engineVersion: "10.11", endpoint: db.example.com, port: 3306, masterSecretArn: "arn:aws:secretsmanager:eu-west-1:555566667777:secret:m", databases: [app] }
roles:${roles.length ? `\n${roles.join('')}` : ' {}\n'}users:
  - { name: u, host: "%", cluster: main, secretName: graphs-u, grants: [], roles: [${held.join(', ')}] }
`;
}

const SCHEMA = ['CREATE DATABASE app'];
let main: RdsServer;

beforeAll(async () => {
  main = await rdsServer(SCHEMA);
});

afterAll(async () => {
  await main?.stop();
});

it('random role graphs, turned around between states and changed by hand, converge in one apply', async () => {
  const steps = Number(process.env.DBUSERS_ROLE_GRAPHS_STEPS ?? 30);
  for (let step = 0; step < steps; step++) {
    const yaml = randomState();
    // A membership changed by hand; the server refuses a role it does not have, or a cycle, and that is fine.
    const [role, to] = [one(NAMES), one([...NAMES, "'u'@'%'"])];
    const drift = step > 0 ? one([`GRANT ${role} TO ${to}`, `REVOKE ${role} FROM ${to}`]) : undefined;
    if (drift) await main.admin.query(drift).catch(() => undefined);
    const context = `step ${step}, after ${drift ?? 'nothing'}:\n${yaml}`;

    // Every tenth state is also made on a fresh server: a server each, so not every step.
    const fresh = step % 10 === 9 ? { schema: SCHEMA, names: ['u', ...NAMES] } : undefined;
    await expectConverged(main, { 'users/graphs.yaml': yaml }, context, fresh);
  }
}, 300_000);
