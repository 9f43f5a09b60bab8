/**
 * Server settings that change what dbusers may do, each on a server started with it:
 * - lower_case_table_names = 1 (an option of RDS for MySQL 8 and Aurora MySQL, set when the instance
 *   is made) keeps database, table and routine names in lower case, in its grant tables too.
 *   Declared in any case, they apply once and re-plan empty: never a grant revoked because its name
 *   came back in lower case, never a table reported missing because it was written otherwise.
 * - read_only (a read replica; an Aurora reader endpoint) refuses every change: the plan says so for
 *   each account, and an apply sends nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalEnvironment } from '../../reconciler/src/adapters/local/local-dispatcher.js';
import type { Database } from '../../reconciler/src/adapters/mysql/database.js';
import {
  allowed,
  localEnvironment,
  loginAs,
  rdsMasterEnvironment,
  reconcileLocally,
  shownGrants,
  startTestServer,
  type TestServer,
} from '../support/server.js';

let server: TestServer;
let admin: Database;
let env: LocalEnvironment;

const yaml = (grants: string[]) => `account: "555566667777"
alias: cased
clusters:
  - { name: main, region: eu-west-1, engine: mariadb, endpoint: db.example.com, port: 3306, masterSecretArn: "arn:aws:secretsmanager:eu-west-1:555566667777:secret:m", databases: [Sales] }
users:
  - name: reporter
    cluster: main
    grants:
${grants.map((g) => `      - ${g}`).join('\n')}
`;

beforeAll(async () => {
  server = await startTestServer(['--lower-case-table-names=1']);
  admin = await server.admin();
  for (const sql of [
    'CREATE DATABASE Sales',
    'CREATE TABLE Sales.Orders (Id INT, Total INT)',
    'CREATE PROCEDURE Sales.Refund() SELECT 1',
    // Lower case as the server makes it, one character for one: İ is i, and a final Σ is σ.
    'CREATE DATABASE `İADE`',
    'CREATE TABLE `İADE`.`ΤΕΛΟΣ` (a INT)',
  ])
    await admin.query(sql);
  env = localEnvironment(server);
});

afterAll(async () => {
  await env?.close();
  await admin?.close();
  await server?.stop();
});

describe('lower_case_table_names = 1', () => {
  it('applies names written in any case once, keeps them on every later run, and the user uses them', async () => {
    const files = {
      'users/cased.yaml': yaml([
        '{ database: Sales, privileges: [SELECT] }',
        '{ on: "Sales.Orders", privileges: [INSERT] }',
        '{ on: "Sales.Orders", columns: [Total], privileges: [UPDATE] }',
        '{ on: "PROCEDURE Sales.Refund", privileges: [EXECUTE] }',
      ]),
    };
    const planned = await reconcileLocally(env, files, 'plan');
    expect(planned.plans[0]!.skipped.filter((s) => s.reason === 'missing object')).toEqual([]);
    for (let run = 0; run < 2; run++) {
      const applied = await reconcileLocally(env, files, 'apply');
      expect(
        applied.results.every((r) => r.ok),
        JSON.stringify(applied.results),
      ).toBe(true);
      expect((await reconcileLocally(env, files, 'plan')).plans[0]!.actions).toEqual([]);
      const secret = await env.secretsFor('555566667777').getValue('rds-main-reporter-secret', 'AWSCURRENT');
      const db = await loginAs(server, 'reporter', secret!.password);
      expect(await allowed(db, 'SELECT * FROM Sales.Orders')).toBe(true);
      expect(await allowed(db, 'INSERT INTO Sales.Orders (Id) VALUES (1)')).toBe(true);
      expect(await allowed(db, 'UPDATE Sales.Orders SET Total = 2')).toBe(true);
      expect(await allowed(db, 'CALL Sales.Refund()')).toBe(true);
      await db.close();
    }
  });

  it('lower-cases names outside ASCII as the server does, one character for one', async () => {
    const files = {
      'users/cased.yaml': yaml([
        '{ database: İADE, privileges: [SELECT] }',
        '{ on: "İADE.ΤΕΛΟΣ", privileges: [INSERT] }',
      ]).replace('databases: [Sales]', 'databases: [Sales, İADE]'),
    };
    expect(
      (await reconcileLocally(env, files, 'plan')).plans[0]!.skipped.filter(
        (s) => s.reason === 'missing object',
      ),
    ).toEqual([]);
    for (let run = 0; run < 2; run++) {
      const applied = await reconcileLocally(env, files, 'apply');
      expect(
        applied.results.every((r) => r.ok),
        JSON.stringify(applied.results),
      ).toBe(true);
      expect((await reconcileLocally(env, files, 'plan')).plans[0]!.actions).toEqual([]);
    }
    const secret = await env.secretsFor('555566667777').getValue('rds-main-reporter-secret', 'AWSCURRENT');
    const db = await loginAs(server, 'reporter', secret!.password);
    expect(await allowed(db, 'INSERT INTO `İADE`.`ΤΕΛΟΣ` (a) VALUES (1)')).toBe(true);
    expect(await allowed(db, 'SELECT * FROM `İADE`.`ΤΕΛΟΣ`')).toBe(true);
    await db.close();
  });

  it('still reports a table that does not exist, named as the server names it', async () => {
    const planned = await reconcileLocally(
      env,
      { 'users/cased.yaml': yaml(['{ on: "Sales.Returns", privileges: [SELECT] }']) },
      'plan',
    );
    expect(planned.plans[0]!.skipped).toContainEqual(
      expect.objectContaining({
        user: 'reporter',
        reason: 'missing object',
        detail: expect.stringMatching(/^its grants name sales\.returns, which the server does not have/),
      }),
    );
  });
});

describe('a read-only server', () => {
  let replica: TestServer;
  let root: Database;
  let master: LocalEnvironment;

  beforeAll(async () => {
    replica = await startTestServer(['--read-only']);
    root = await replica.admin();
    await root.query('CREATE DATABASE Sales');
    // The RDS master has no READ ONLY ADMIN: read_only binds it, as it does not bind root here.
    master = await rdsMasterEnvironment(replica, root);
  });

  afterAll(async () => {
    await master?.close();
    await root?.close();
    await replica?.stop();
  });

  it('plans no change, says why for each account, and applies nothing until it is writable', async () => {
    const files = { 'users/cased.yaml': yaml(['{ database: Sales, privileges: [SELECT] }']) };
    const before = await shownGrants(root);
    const planned = await reconcileLocally(master, files, 'plan');
    expect(planned.plans[0]!.actions).toEqual([]);
    expect(planned.plans[0]!.skipped.filter((s) => s.reason === 'unsupported')).toEqual([
      {
        user: 'reporter',
        host: '%',
        reason: 'unsupported',
        detail: expect.stringMatching(
          /^the server is read-only .*: point the cluster's endpoint at the writer$/,
        ),
      },
    ]);
    const applied = await reconcileLocally(master, files, 'apply');
    expect(applied.results).toEqual([]);
    expect(await shownGrants(root)).toEqual(before);

    await root.query('SET GLOBAL read_only = 0');
    const writable = await reconcileLocally(master, files, 'apply');
    expect(writable.results.every((r) => r.ok)).toBe(true);
    expect((await reconcileLocally(master, files, 'plan')).plans[0]!.actions).toEqual([]);
  });
});
