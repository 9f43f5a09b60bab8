/**
 * A server with lower_case_table_names = 1 (an option of RDS for MySQL 8 and Aurora MySQL, set when
 * the instance is made) keeps database, table and routine names in lower case, in its grant tables
 * too. Declared in any case, they apply once and re-plan empty: never a grant revoked because its
 * name came back in lower case, and never a table reported missing because it was written otherwise.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalEnvironment } from '../../reconciler/src/adapters/local/local-dispatcher.js';
import type { Database } from '../../reconciler/src/adapters/mysql/database.js';
import {
  allowed,
  localEnvironment,
  loginAs,
  reconcileLocally,
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
