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
import {
  allowedEach,
  localServer,
  loginAs,
  rdsServer,
  reconcileLocally,
  shownGrants,
  type RdsServer,
} from '../support/server.js';

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

describe('lower_case_table_names = 1', () => {
  let cased: RdsServer;

  beforeAll(async () => {
    cased = await localServer(
      [
        'CREATE DATABASE Sales',
        'CREATE TABLE Sales.Orders (Id INT, Total INT)',
        'CREATE PROCEDURE Sales.Refund() SELECT 1',
        // Lower case as the server makes it, one character for one: İ is i, and a final Σ is σ.
        'CREATE DATABASE `İADE`',
        'CREATE TABLE `İADE`.`ΤΕΛΟΣ` (a INT)',
      ],
      ['--lower-case-table-names=1'],
    );
  });

  afterAll(async () => {
    await cased?.stop();
  });

  /** Two applies, each complete and followed by an empty plan; `then` runs after each. */
  async function applyTwice(files: Record<string, string>, then?: () => Promise<void>): Promise<void> {
    for (let run = 0; run < 2; run++) {
      const applied = await reconcileLocally(cased.env, files, 'apply');
      expect(
        applied.results.every((r) => r.ok),
        JSON.stringify(applied.results),
      ).toBe(true);
      expect((await reconcileLocally(cased.env, files, 'plan')).plans[0]!.actions).toEqual([]);
      await then?.();
    }
  }

  /** The declared user, logged in with its secret's password. */
  async function reporter() {
    const secret = await cased.env
      .secretsFor('555566667777')
      .getValue('rds-main-reporter-secret', 'AWSCURRENT');
    return loginAs(cased.server, 'reporter', secret!.password);
  }

  it('applies names written in any case once, keeps them on every later run, and the user uses them', async () => {
    const files = {
      'users/cased.yaml': yaml([
        '{ database: Sales, privileges: [SELECT] }',
        '{ on: "Sales.Orders", privileges: [INSERT] }',
        '{ on: "Sales.Orders", columns: [Total], privileges: [UPDATE] }',
        '{ on: "PROCEDURE Sales.Refund", privileges: [EXECUTE] }',
      ]),
    };
    const planned = await reconcileLocally(cased.env, files, 'plan');
    expect(planned.plans[0]!.skipped.filter((s) => s.reason === 'missing object')).toEqual([]);
    await applyTwice(files, async () => {
      expect(
        await allowedEach(reporter(), [
          'SELECT * FROM Sales.Orders',
          'INSERT INTO Sales.Orders (Id) VALUES (1)',
          'UPDATE Sales.Orders SET Total = 2',
          'CALL Sales.Refund()',
        ]),
      ).toEqual([true, true, true, true]);
    });
  });

  it('lower-cases names outside ASCII as the server does, one character for one', async () => {
    const files = {
      'users/cased.yaml': yaml([
        '{ database: İADE, privileges: [SELECT] }',
        '{ on: "İADE.ΤΕΛΟΣ", privileges: [INSERT] }',
      ]).replace('databases: [Sales]', 'databases: [Sales, İADE]'),
    };
    expect(
      (await reconcileLocally(cased.env, files, 'plan')).plans[0]!.skipped.filter(
        (s) => s.reason === 'missing object',
      ),
    ).toEqual([]);
    await applyTwice(files);
    expect(
      await allowedEach(reporter(), [
        'INSERT INTO `İADE`.`ΤΕΛΟΣ` (a) VALUES (1)',
        'SELECT * FROM `İADE`.`ΤΕΛΟΣ`',
      ]),
    ).toEqual([true, true]);
  });

  it('still reports a table that does not exist, named as the server names it', async () => {
    const planned = await reconcileLocally(
      cased.env,
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
  let replica: RdsServer;

  beforeAll(async () => {
    // As the RDS master, which has no READ ONLY ADMIN: read_only binds it, as it does not bind root here.
    replica = await rdsServer(['CREATE DATABASE Sales'], ['--read-only']);
  });

  afterAll(async () => {
    await replica?.stop();
  });

  it('plans no change, says why for each account, and applies nothing until it is writable', async () => {
    const files = { 'users/cased.yaml': yaml(['{ database: Sales, privileges: [SELECT] }']) };
    const before = await shownGrants(replica.admin);
    const planned = await reconcileLocally(replica.env, files, 'plan');
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
    const applied = await reconcileLocally(replica.env, files, 'apply');
    expect(applied.results).toEqual([]);
    expect(await shownGrants(replica.admin)).toEqual(before);

    await replica.admin.query('SET GLOBAL read_only = 0');
    const writable = await reconcileLocally(replica.env, files, 'apply');
    expect(writable.results.every((r) => r.ok)).toBe(true);
    expect((await reconcileLocally(replica.env, files, 'plan')).plans[0]!.actions).toEqual([]);
  });
});
