/**
 * What validates, a server accepts: random names for every field a grant or an account names
 * (databases, tables, columns, routines, users, hosts, roles), drawn from quotes, backticks,
 * backslashes, wildcards, dots, spaces, letters whose case differs only by the server's rules, and
 * characters outside ASCII, up to past the server's limits. The schema is made first with those
 * names; each state either fails validation (and changes nothing) or applies as the RDS for MariaDB
 * master with no failed or skipped action, and re-plans empty. Seeded: DBUSERS_NAMES_SEED and
 * _STEPS reproduce a run.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { quoteIdent } from '../../reconciler/src/sql/escape.js';
import { seeded } from '../support/random.js';
import { rdsServer, reconcileLocally, type RdsServer } from '../support/server.js';

const { random, one, some } = seeded(Number(process.env.DBUSERS_NAMES_SEED ?? 20261206));
const ASCII = [...'aAzZbB_%.`\'"\\ -$1@#/*;:?!{}[],&|><=+~'];
const ANY = [...ASCII, 'é', 'É', '名', 'ß', 'İ', 'ı', '\u00a0', 'ǅ'];
const HOST = [...'aB1.%_:/-09x'];

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

let main: RdsServer;

beforeAll(async () => {
  main = await rdsServer([]);
});

afterAll(async () => {
  await main?.stop();
});

it('every state of random names either fails validation or applies and re-plans empty', async () => {
  const steps = Number(process.env.DBUSERS_NAMES_STEPS ?? 100);
  let applied = 0;
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
    if (
      await made(
        `CREATE TABLE ${quoteIdent(db)}.${quoteIdent(table)} (${columns.map((c) => `${quoteIdent(c)} INT`).join(', ')})`,
      )
    ) {
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
    const yaml = `account: "555566667777"
alias: names
clusters:
  - { name: main, region: eu-west-1, engine: mariadb, engineVersion: "10.11", endpoint: db.example.com, port: 3306, masterSecretArn: "arn:aws:secretsmanager:eu-west-1:555566667777:secret:m", databases: [${q(db)}] }
roles:
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
    const result = await reconcileLocally(main.env, files, 'apply', { allowDeletes: true });
    if (result.diagnostics.length === 0) {
      expect(
        result.results.filter((r) => !r.ok),
        context,
      ).toEqual([]);
      expect(
        result.plans.flatMap((p) => p.skipped).filter((s) => s.reason !== 'protected'),
        context,
      ).toEqual([]);
      const replan = await reconcileLocally(main.env, files, 'plan', { allowDeletes: true });
      expect(
        replan.plans.flatMap((p) => p.actions),
        context,
      ).toEqual([]);
      applied++;
    } else expect(result.results, context).toEqual([]);
    // The next state starts from nothing: this one's accounts are dropped, its schema too.
    const none = yaml.replace(/roles:[\s\S]*/, 'users: []\n');
    const cleared = await reconcileLocally(main.env, { 'users/names.yaml': none }, 'apply', {
      allowDeletes: true,
    });
    expect(
      cleared.results.filter((r) => !r.ok),
      context,
    ).toEqual([]);
    await main.admin.query(`DROP DATABASE ${quoteIdent(db)}`);
  }
  // Most states hold a name validation refuses; enough must apply for the test to mean something.
  expect(applied).toBeGreaterThanOrEqual(steps / 10);
}, 300_000);
