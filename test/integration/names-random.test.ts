/**
 * What validates, a server accepts: random names for every field a grant or an account names
 * (databases, tables, columns, routines, users, hosts, roles), drawn from quotes, backticks,
 * backslashes, wildcards, dots, spaces, letters whose case differs only by the server's rules, and
 * characters outside ASCII, up to past the server's limits, and a LIKE pattern of such characters.
 * The schema is made first with those names; each state either fails validation (and changes
 * nothing) or applies as the RDS for MariaDB master with no failed or skipped action, and re-plans
 * empty. Then the other way round: servers made by hand with such names must round-trip through
 * `import` (validates, plans only adoptions, applies, plans nothing, changes no grant). Both on a
 * plain server and on one keeping names in lower case (lower_case_table_names = 1). Seeded:
 * DBUSERS_NAMES_SEED and _STEPS reproduce a run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quoteAccount, quoteIdent, quoteString } from '../../reconciler/src/sql/escape.js';
import { seeded } from '../support/random.js';
import {
  allowed,
  loginAs,
  rdsServer,
  reconcileLocally,
  expectConverged,
  expectImportRoundTrip,
  type RdsServer,
} from '../support/server.js';

const { random, one, some } = seeded(Number(process.env.DBUSERS_NAMES_SEED ?? 20261206));
const ASCII = [...'aAzZbB_%.`\'"\\ -$1@#/*;:?!{}[],&|><=+~'];
const ANY = [...ASCII, 'é', 'É', '名', 'ß', 'İ', 'ı', '\u00a0', 'ǅ'];
const HOST = [...'aB1.%_:/-09x'];
/** What a LIKE pattern is made of: wildcards, the backslash that escapes them, and odd names. */
const PATTERN = [..."a_%\\b.`'é"];

/** A name of 1 to 8 characters, now and then 60 to 67 (around the server's 64). */
function randomName(alphabet = random() < 0.6 ? ASCII : ANY, max = 8): string {
  const length = random() < 0.05 ? 60 + Math.floor(random() * 8) : 1 + Math.floor(random() * max);
  return Array.from({ length }, () => one(alphabet)).join('');
}

/** The same name in another case, where the server matches it in any case (columns, routines). */
const otherCase = (name: string) =>
  [...name]
    .map((c) =>
      /[a-z]/i.test(c) && random() < 0.5 ? (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) : c,
    )
    .join('');
/** A name inside `on:`: backticks around it when it holds a dot, a backtick or an edge space. */
const inOn = (name: string) =>
  /[.`]/.test(name) || name !== name.trim() ? `\`${name.replace(/`/g, '``')}\`` : name;
const q = (s: string) => JSON.stringify(s);

const LEGACY = `account: "666677778888"
alias: legacy
clusters:
  - { name: main, region: eu-west-1, engine: mariadb, engineVersion: "10.11", endpoint: db.example.com, port: 3306, masterSecretArn: "arn:aws:secretsmanager:eu-west-1:666677778888:secret:m", databases: [] }
`;

let main: RdsServer;

/** The next step starts from nothing: every account dbusers manages for `cluster` is deleted. */
async function startOver(path: string, cluster: string, context: string): Promise<void> {
  const cleared = await reconcileLocally(main.env, { [path]: `${cluster}users: []\n` }, 'apply', {
    allowDeletes: true,
  });
  expect(
    cleared.results.filter((r) => !r.ok),
    context,
  ).toEqual([]);
}

/** Each test on a plain server, then on one keeping names in lower case (lower_case_table_names = 1). */
describe.each([[[]], [['--lower-case-table-names=1']]])('on a server started with %j', (serverArgs) => {
  beforeAll(async () => {
    main = await rdsServer([], serverArgs);
  });

  afterAll(async () => {
    await main?.stop();
  });

  it('every state of random names either fails validation or applies and re-plans empty', async () => {
    const steps = Number(process.env.DBUSERS_NAMES_STEPS ?? 100);
    let applied = 0;
    let logins = 0;
    for (let step = 0; step < steps; step++) {
      const [db, table, procedure, user, role] = [
        randomName(),
        randomName(),
        randomName(),
        randomName(),
        randomName(),
      ];
      const columns = [randomName(), randomName(), randomName()];
      const host = random() < 0.4 ? '%' : randomName(HOST, 12);
      // Names the server itself refuses for a database, table or routine are not declared.
      const made = async (sql: string) =>
        main.admin.query(sql).then(
          () => true,
          () => false,
        );
      if (!(await made(`CREATE DATABASE ${quoteIdent(db)}`))) continue;
      const grants = [`{ on: ${q(`${inOn(db)}.*`)}, privileges: [SELECT] }`];
      // A LIKE pattern with a wildcard left at its end, after a prefix no system schema has.
      const pattern = `zq${randomName(random() < 0.5 ? PATTERN : undefined, 6)}${one(['%', '_'])}`;
      grants.push(`{ on: ${q(`${inOn(pattern)}.*`)}, pattern: true, privileges: [INSERT] }`);
      const tableMade = await made(
        `CREATE TABLE ${quoteIdent(db)}.${quoteIdent(table)} (${columns.map((c) => `${quoteIdent(c)} INT`).join(', ')})`,
      );
      if (tableMade) {
        grants.push(`{ on: ${q(`${inOn(db)}.${inOn(table)}`)}, privileges: [INSERT] }`);
        const some_ = some(columns, 0.6).map((c) => q(random() < 0.3 ? otherCase(c) : c));
        if (some_.length)
          grants.push(
            `{ on: ${q(`${inOn(db)}.${inOn(table)}`)}, columns: [${some_.join(', ')}], privileges: [UPDATE] }`,
          );
      }
      if (await made(`CREATE PROCEDURE ${quoteIdent(db)}.${quoteIdent(procedure)}() SELECT 1`)) {
        const spelled = random() < 0.3 ? otherCase(procedure) : procedure;
        grants.push(`{ on: ${q(`PROCEDURE ${inOn(db)}.${inOn(spelled)}`)}, privileges: [EXECUTE] }`);
      }
      const listed = grants.map((g) => `      - ${g}`).join('\n');
      const cluster = `account: "555566667777"
alias: names
clusters:
  - { name: main, region: eu-west-1, engine: mariadb, engineVersion: "10.11", endpoint: db.example.com, port: 3306, masterSecretArn: "arn:aws:secretsmanager:eu-west-1:555566667777:secret:m", databases: [${q(db)}] }
`;
      const yaml = `${cluster}roles:
  ${q(role)}:
    grants:
${listed}
users:
  - name: ${q(user)}
    host: ${q(host)}
    cluster: main
    secretName: names-user-${step}
    grants:
${listed}
    roles: [${q(role)}]
`;
      const context = `step ${step}:\n${yaml}`;
      const files = { 'users/names.yaml': yaml };
      const planned = await reconcileLocally(main.env, files, 'plan', { allowDeletes: true });
      if (planned.diagnostics.length === 0) {
        expect(
          planned.plans.flatMap((p) => p.skipped).filter((s) => s.reason !== 'protected'),
          context,
        ).toEqual([]);
        await expectConverged(main, files, context);
        applied++;
        if (host === '%') {
          // The user logs in with its secret's password and may do what it was granted, and no more.
          const secret = await main.env
            .secretsFor('555566667777')
            .getValue(`names-user-${step}`, 'AWSCURRENT');
          const client = await loginAs(main.server, user, secret!.password);
          try {
            expect(await allowed(client, `SHOW TABLES FROM ${quoteIdent(db)}`), context).toBe(true);
            if (tableMade)
              expect(
                await allowed(client, `INSERT INTO ${quoteIdent(db)}.${quoteIdent(table)} () VALUES ()`),
                context,
              ).toBe(true);
            expect(await allowed(client, 'SELECT * FROM mysql.global_priv'), context).toBe(false);
            logins++;
          } finally {
            await client.close();
          }
        }
      }
      await startOver('users/names.yaml', cluster, context);
      await main.admin.query(`DROP DATABASE ${quoteIdent(db)}`);
    }
    // Most states hold a name validation refuses; enough must apply for the test to mean something.
    expect(applied).toBeGreaterThanOrEqual(steps / 10);
    expect(logins).toBeGreaterThan(0);
  }, 300_000);

  it('import round-trips servers made by hand with random names', async () => {
    const steps = Number(process.env.DBUSERS_NAMES_STEPS ?? 40);
    let imported = 0;
    for (let step = 0; step < steps; step++) {
      const made: string[] = [];
      const run = async (sql: string) =>
        main.admin.query(sql).then(
          () => made.push(sql) > 0,
          () => false,
        );
      const [db, table, column, procedure, role] = [
        randomName(),
        randomName(),
        randomName(),
        randomName(ASCII),
        randomName(),
      ];
      if (!(await run(`CREATE DATABASE ${quoteIdent(db)}`))) continue;
      const [onTable, onProcedure] = [
        `${quoteIdent(db)}.${quoteIdent(table)}`,
        `${quoteIdent(db)}.${quoteIdent(procedure)}`,
      ];
      const hasTable = await run(`CREATE TABLE ${onTable} (${quoteIdent(column)} INT)`);
      const hasProcedure = await run(`CREATE PROCEDURE ${onProcedure}() SELECT 1`);
      const hasRole = await run(`CREATE ROLE ${quoteString(role)}`);
      const grantees: string[] = [];
      for (const host of [random() < 0.5 ? '%' : randomName(HOST, 10), '%']) {
        const who = quoteAccount(randomName(), host);
        if (await run(`CREATE USER ${who} IDENTIFIED BY 'by hand'`)) grantees.push(who);
      }
      if (hasRole) grantees.push(quoteString(role));
      for (const who of grantees) {
        await run(`GRANT SELECT ON ${quoteIdent(db.replace(/[\\_%]/g, '\\$&'))}.* TO ${who}`);
        if (random() < 0.5) await run(`GRANT SELECT ON ${quoteIdent(db)}.* TO ${who}`);
        if (hasTable) {
          await run(
            `GRANT INSERT (${quoteIdent(column)}) ON ${onTable} TO ${who}${random() < 0.3 ? ' WITH GRANT OPTION' : ''}`,
          );
          await run(`GRANT UPDATE ON ${onTable} TO ${who}`);
        }
        if (hasProcedure) await run(`GRANT EXECUTE ON PROCEDURE ${onProcedure} TO ${who}`);
        if (hasRole && who !== quoteString(role) && random() < 0.7)
          await run(`GRANT ${quoteString(role)} TO ${who}`);
      }
      await expectImportRoundTrip(main, LEGACY, `step ${step}, made by hand:\n${made.join(';\n')}`);
      imported++;

      // The next server starts from nothing: what was adopted is deleted, the rest dropped by hand.
      await startOver('users/legacy.yaml', LEGACY, `step ${step}`);
      for (const who of grantees)
        await main.admin.query(`DROP ${who.includes('@') ? 'USER' : 'ROLE'} IF EXISTS ${who}`);
      await main.admin.query(`DROP DATABASE ${quoteIdent(db)}`);
    }
    expect(imported).toBeGreaterThanOrEqual(steps / 2);
  }, 300_000);
});
