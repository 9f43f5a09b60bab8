/**
 * `import` on random servers made by hand: users on several hosts (one of them anonymous), odd
 * names, grants of every level with and without the grant option, LIKE patterns, roles held with or
 * without the admin option and as default or not, locked accounts, PROXY grants. Each round trip
 * must validate, plan only adoptions (what no YAML declares is left out and left alone), apply, plan
 * nothing, and leave every grant and default role as it was, all done as the RDS for MariaDB master
 * would do it (its privileges, no ADMIN OPTION on the roles made by hand). Seeded: DBUSERS_IMPORT_SEED and
 * DBUSERS_IMPORT_RUNS reproduce a run.
 */
import { it } from 'vitest';
import { quoteAccount } from '../../reconciler/src/sql/escape.js';
import { expectImportRoundTrip, rdsServer } from '../support/server.js';
import { seeded } from '../support/random.js';

const SCHEMA = [
  'CREATE DATABASE app',
  'CREATE DATABASE app1',
  'CREATE DATABASE app_x',
  'CREATE DATABASE `we.ird`',
  'CREATE TABLE app.t (a INT, b INT, c INT)',
  'CREATE TABLE app_x.t (id INT)',
  'CREATE TABLE `we.ird`.`t t` (`c``1` INT)',
  'CREATE PROCEDURE app.p() SELECT 1',
  'CREATE FUNCTION app.f() RETURNS INT RETURN 1',
];
const GRANTS = [
  'SELECT ON app.*',
  'SELECT, INSERT ON app.*',
  'USAGE ON app.*',
  'ALL PRIVILEGES ON app.*',
  'SELECT ON `app\\_x`.*',
  'SELECT ON `app_x`.*',
  'SELECT ON `app%`.*',
  'SELECT ON `%`.*',
  'DELETE ON `we.ird`.*',
  'INSERT (`c``1`) ON `we.ird`.`t t`',
  'INSERT (a, b), UPDATE (c) ON app.t',
  'ALL PRIVILEGES ON app.t',
  'REFERENCES (a) ON app.t',
  'EXECUTE ON PROCEDURE app.p',
  'EXECUTE, ALTER ROUTINE ON FUNCTION app.f',
  'SELECT, SHOW DATABASES ON *.*',
  'PROCESS, RELOAD ON *.*',
  'ALL PRIVILEGES ON *.*',
  'BINLOG MONITOR ON *.*',
  'DELETE HISTORY ON app.*',
  'CREATE TEMPORARY TABLES, LOCK TABLES ON app1.*',
];
const HOSTS = ['%', 'localhost', '10.0.0.%', '192.168.1.0/255.255.255.0', '%.corp.example'];
const NAMES = ['app', 'u_1', 'svc-x', 'Mixed', 'dots.in.name', 'pct%', "o'brien"];
const CLUSTER = `account: "666677778888"
alias: legacy
clusters:
  - { name: main, region: eu-west-1, engine: mariadb, engineVersion: "10.11", endpoint: db.example.com, port: 3306, masterSecretArn: "arn:aws:secretsmanager:eu-west-1:666677778888:secret:m", databases: [] }
`;

const { random, one } = seeded(Number(process.env.DBUSERS_IMPORT_SEED ?? 20261206));
const maybe = (p: number, text: string) => (random() < p ? text : '');

/** Statements that make one random server by hand (some fail, as a DBA's would: that is fine). */
function randomServer(): string[] {
  const made: string[] = [];
  const roles = ['rr1', 'rr2'].filter(() => random() < 0.6);
  for (const r of roles) {
    made.push(`CREATE ROLE ${r}`);
    for (let k = 0; k < 2; k++) made.push(`GRANT ${one(GRANTS)} TO ${r}${maybe(0.2, ' WITH GRANT OPTION')}`);
  }
  if (roles.length === 2) made.push(`GRANT rr1 TO rr2${maybe(0.5, ' WITH ADMIN OPTION')}`);
  for (let u = 0; u < 4; u++) {
    const who = quoteAccount(one(NAMES), one(HOSTS));
    made.push(`CREATE USER IF NOT EXISTS ${who} IDENTIFIED BY 'pw${u}'${maybe(0.1, ' ACCOUNT LOCK')}`);
    for (let k = 0; k < 3; k++)
      made.push(`GRANT ${one(GRANTS)} TO ${who}${maybe(0.2, ' WITH GRANT OPTION')}`);
    for (const r of roles) {
      if (random() < 0.5) continue;
      made.push(`GRANT ${r} TO ${who}${maybe(0.3, ' WITH ADMIN OPTION')}`);
      if (random() < 0.5) made.push(`SET DEFAULT ROLE ${r} FOR ${who}`);
    }
  }
  if (random() < 0.3) made.push("CREATE USER ''@'localhost'", "GRANT SELECT ON app.* TO ''@'localhost'");
  if (random() < 0.3)
    made.push("CREATE USER 'px'@'%' IDENTIFIED BY 'p'", "GRANT PROXY ON 'app'@'%' TO 'px'@'%'");
  return made;
}

// Each step starts a server of its own: minutes on a slow machine, not the default 60 s.
it('round-trips random servers: validates, plans only adoptions, applies, plans nothing, changes no grant', async () => {
  const runs = Number(process.env.DBUSERS_IMPORT_RUNS ?? 6);
  for (let run = 0; run < runs; run++) {
    const main = await rdsServer(SCHEMA);
    try {
      const made = randomServer();
      for (const sql of made) await main.admin.query(sql).catch(() => undefined);
      await expectImportRoundTrip(main, CLUSTER, `run ${run}, server made with:\n${made.join(';\n')}`);
    } finally {
      await main.stop();
    }
  }
}, 300_000);
