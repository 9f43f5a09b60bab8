import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LocalDispatcher,
  type LocalEnvironment,
} from '../../reconciler/src/adapters/local/local-dispatcher.js';
import type { Database } from '../../reconciler/src/adapters/mysql/database.js';
import { generatePassword } from '../../reconciler/src/adapters/local/file-secret-store.js';
import { renderText } from '../../reconciler/src/plan/render.js';
import { quoteString } from '../../reconciler/src/sql/escape.js';
import { reconcile } from '../../reconciler/src/reconcile.js';
import {
  allowed,
  allowedEach,
  loginAs,
  reconcileLocally,
  localServer,
  type TestServer,
  MemorySource,
} from '../support/server.js';

let server: TestServer;
let admin: Database;
let env: LocalEnvironment;
let stop: () => Promise<void>;

/** One user `fid` (and the roles given) on a MariaDB cluster with databases app, app1, app2, other. */
const file = (grants: string[], extra = '') => `account: "555566667777"
alias: fidelity
clusters:
  - { name: main, region: eu-west-1, engine: mariadb, endpoint: db.example.com, port: 3306, masterSecretArn: "arn:aws:secretsmanager:eu-west-1:555566667777:secret:m", databases: [app, app1, app2, other, app_x] }
${extra}users:
  - name: fid
    cluster: main
    grants:
${grants.map((g) => `      - ${g}`).join('\n') || '      []'}
`;

function run(yaml: string, mode: 'plan' | 'apply') {
  return reconcileLocally(env, { 'users/fidelity.yaml': yaml }, mode, { allowDeletes: true });
}

/** Apply, then the re-plan must be empty. */
async function converge(yaml: string): Promise<void> {
  const applied = await run(yaml, 'apply');
  expect(applied.diagnostics).toEqual([]);
  expect(
    applied.results.every((r) => r.ok),
    JSON.stringify(applied.results),
  ).toBe(true);
  const again = await run(yaml, 'plan');
  expect(
    again.plans.flatMap((p) => p.actions),
    'the re-plan is empty',
  ).toEqual([]);
}

/** Which role each of `users` holds, as roles_mapping keeps it. */
function roleEdges(...users: string[]) {
  return admin.query(
    `SELECT User, Role FROM mysql.roles_mapping WHERE User IN (${users.map(() => '?').join(', ')}) ORDER BY User`,
    users,
  );
}

async function client(): Promise<Database> {
  const secret = await env.secretsFor('555566667777').getValue('rds-main-fid-secret', 'AWSCURRENT');
  return loginAs(server, 'fid', secret!.password);
}

/** Loop `sql` as the user while `work` runs; returns the denials. */
async function denialsDuring(sql: string, work: () => Promise<void>): Promise<string[]> {
  const db = await client();
  let stop = false;
  const denials: string[] = [];
  const loop = (async () => {
    while (!stop) await db.query(sql).catch((e: Error) => denials.push(e.message));
  })();
  try {
    await work();
  } finally {
    stop = true;
    await loop;
    await db.close();
  }
  return denials;
}

beforeAll(async () => {
  ({ server, admin, env, stop } = await localServer([
    'CREATE DATABASE app',
    'CREATE DATABASE app1',
    'CREATE DATABASE app2',
    'CREATE DATABASE other',
    'CREATE TABLE app.t (a INT, b INT, c INT)',
    'CREATE TABLE app1.t (id INT)',
    'CREATE TABLE app2.t (id INT)',
    'CREATE TABLE other.t (id INT)',
    'CREATE DATABASE app_x',
    'CREATE TABLE app_x.t (id INT)',
    'CREATE DATABASE appyx',
    'CREATE TABLE appyx.t (id INT)',
  ]));
});

afterAll(async () => {
  await stop?.();
});

describe('grant transitions on MariaDB', () => {
  it('table-wide INSERT → INSERT (a, b): one apply, the columns kept although the table REVOKE drops them', async () => {
    await converge(file(['{ on: "app.t", privileges: [INSERT] }']));
    await converge(file(['{ on: "app.t", columns: [a, b], privileges: [INSERT] }']));
    expect(
      await allowedEach(client(), [
        'INSERT INTO app.t (a, b) VALUES (1, 1)',
        'INSERT INTO app.t (c) VALUES (1)',
      ]),
    ).toEqual([true, false]);
  });

  it('INSERT (a, b) → table-wide INSERT, never denying an INSERT into a on the way', async () => {
    await converge(file(['{ on: "app.t", columns: [a, b], privileges: [INSERT] }']));
    const denials = await denialsDuring('INSERT INTO app.t (a) VALUES (2)', () =>
      converge(file(['{ on: "app.t", privileges: [INSERT] }'])),
    );
    expect(denials).toEqual([]);
    expect(await allowedEach(client(), ['INSERT INTO app.t (c) VALUES (1)'])).toEqual([true]);
  });

  it('a column grant WITH GRANT OPTION is kept, and read back as the server stores it (on the table)', async () => {
    await converge(file(['{ on: "app.t", columns: [a], privileges: [SELECT], withGrantOption: true }']));
    const [row] = await admin.query<{ t: string }>(
      "SELECT Table_priv AS t FROM mysql.tables_priv WHERE User = 'fid'",
    );
    expect(row!.t).toBe('Grant');
    await converge(file(['{ on: "app.t", columns: [a], privileges: [SELECT] }']));
    const rows = await admin.query<{ t: string }>(
      "SELECT Table_priv AS t FROM mysql.tables_priv WHERE User = 'fid' AND Table_priv <> ''",
    );
    expect(rows).toEqual([]);
  });

  it('a database LIKE pattern with pattern: true grants on every database it matches, and on nothing else', async () => {
    await converge(file(['{ on: "app_.*", pattern: true, privileges: [SELECT] }']));
    expect(
      await allowedEach(client(), ['SELECT * FROM app1.t', 'SELECT * FROM app2.t', 'SELECT * FROM other.t']),
    ).toEqual([true, true, false]);
    const [row] = await admin.query<{ d: string }>("SELECT Db AS d FROM mysql.db WHERE User = 'fid'");
    expect(row!.d).toBe('app_');
  });

  it('a pattern with no wildcard left unescaped is the literal database, as the server reads it back: beside a literal grant, one apply converges', async () => {
    await converge(
      file([
        '{ on: "app_x.*", privileges: [SELECT] }',
        "{ on: 'app\\_x.*', pattern: true, privileges: [DELETE] }",
        '{ on: "app.*", pattern: true, privileges: [INSERT] }',
      ]),
    );
    const rows = await admin.query<{ d: string; s: string; del: string; i: string }>(
      "SELECT Db AS d, Select_priv AS s, Delete_priv AS del, Insert_priv AS i FROM mysql.db WHERE User = 'fid' ORDER BY Db",
    );
    expect(rows).toEqual([
      { d: 'app', s: 'N', del: 'N', i: 'Y' },
      { d: 'app\\_x', s: 'Y', del: 'Y', i: 'N' },
    ]);
    expect(await allowedEach(client(), ['DELETE FROM app_x.t', 'SELECT * FROM appyx.t'])).toEqual([
      true,
      false,
    ]);
  });

  it('GRANT OPTION alone on a database: USAGE with withGrantOption', async () => {
    await converge(file(['{ on: "app.*", privileges: [USAGE], withGrantOption: true }']));
    const [row] = await admin.query<{ g: string; s: string }>(
      "SELECT Grant_priv AS g, Select_priv AS s FROM mysql.db WHERE User = 'fid'",
    );
    expect(row).toEqual({ g: 'Y', s: 'N' });
  });

  it('role membership WITH ADMIN OPTION is declared, applied, read back, and taken away again', async () => {
    const roles = 'roles:\n  keeper:\n    grants: [{ on: "app.*", privileges: [SELECT] }]\n';
    await converge(
      file([], roles).replace('    grants:\n      []', '    roles: [{ name: keeper, admin: true }]'),
    );
    const admin1 = await admin.query<{ a: string }>(
      "SELECT Admin_option AS a FROM mysql.roles_mapping WHERE User = 'fid'",
    );
    expect(admin1).toEqual([{ a: 'Y' }]);
    await converge(file([], roles).replace('    grants:\n      []', '    roles: [keeper]'));
    const admin2 = await admin.query<{ a: string }>(
      "SELECT Admin_option AS a FROM mysql.roles_mapping WHERE User = 'fid'",
    );
    expect(admin2).toEqual([{ a: 'N' }]);
    await admin.query("GRANT keeper TO 'fid'@'%' WITH ADMIN OPTION");
    const drift = await run(file([], roles).replace('    grants:\n      []', '    roles: [keeper]'), 'plan');
    expect(drift.plans[0]!.actions).toEqual([
      expect.objectContaining({
        kind: 'update_grant',
        reason: 'grants differ: -admin option on role keeper',
      }),
    ]);
  });

  it('a role held but not made default (default: false): several roles on MariaDB, at most one default, each turned on by SET ROLE', async () => {
    const roles =
      'roles:\n  reader:\n    grants: [{ on: "app.*", privileges: [SELECT] }]\n  writer:\n    grants: [{ on: "app.*", privileges: [INSERT] }]\n';
    const holding = (entries: string) =>
      file([], roles).replace('    grants:\n      []', `    roles: [${entries}]`);
    const state = () =>
      admin.query<{ d: string | null; r: string }>(
        "SELECT JSON_VALUE(g.Priv, '$.default_role') AS d, m.Role AS r FROM mysql.global_priv g JOIN mysql.roles_mapping m ON m.User = g.User AND m.Host = g.Host WHERE g.User = 'fid' ORDER BY m.Role",
      );
    await converge(holding('reader, { name: writer, default: false }'));
    expect(await state()).toEqual([
      { d: 'reader', r: 'reader' },
      { d: 'reader', r: 'writer' },
    ]);
    const db = await client();
    expect(await allowed(db, 'SELECT * FROM app.t')).toBe(true);
    expect(await allowed(db, 'INSERT INTO app.t VALUES (1, 2, 3)')).toBe(false);
    await db.query('SET ROLE writer');
    expect(await allowed(db, 'INSERT INTO app.t VALUES (1, 2, 3)')).toBe(true);
    await db.close();
    // The default moves; then neither is default (SET DEFAULT ROLE NONE), and both stay held.
    await converge(holding('{ name: reader, default: false }, writer'));
    expect((await state()).map((x) => x.d)).toEqual(['writer', 'writer']);
    await converge(
      holding('{ name: reader, default: false }, { name: writer, default: false, admin: true }'),
    );
    expect((await state()).map((x) => x.d ?? '')).toEqual(['', '']);
    // A default role set by hand is drift, named in the plan.
    await admin.query("SET DEFAULT ROLE reader FOR 'fid'@'%'");
    const drift = await run(
      holding('{ name: reader, default: false }, { name: writer, default: false, admin: true }'),
      'plan',
    );
    expect(drift.plans[0]!.actions).toEqual([
      expect.objectContaining({ kind: 'update_grant', reason: 'default roles differ' }),
    ]);
    // Two default roles is what MariaDB cannot hold: refused before anything runs.
    const refused = await run(holding('reader, writer'), 'plan');
    expect(refused.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([
      expect.stringMatching(
        /^ENGINE_UNSUPPORTED user fid: MariaDB activates only one default role, got 2; mark the others/,
      ),
    ]);
    await converge(file([]));
  });

  it('creates a declared role nobody holds, and keeps it', async () => {
    const roles = 'roles:\n  spare:\n    grants: [{ on: "other.*", privileges: [SELECT] }]\n';
    await converge(file(['{ on: "app.*", privileges: [SELECT] }'], roles));
    const rows = await admin.query<{ u: string }>(
      "SELECT User AS u FROM mysql.global_priv WHERE User = 'spare'",
    );
    expect(rows).toEqual([{ u: 'spare' }]);
    await converge(file(['{ on: "app.*", privileges: [SELECT] }'], roles));
    expect(await admin.query("SELECT User FROM mysql.global_priv WHERE User = 'spare'")).toHaveLength(1);
  });

  it('a role graph turned around (lo held hi, now hi holds lo) converges in one apply: the revoke goes first, whatever order the names sort in', async () => {
    // The server refuses a grant that closes a cycle of roles, even for a moment.
    const graph = (lo: string, hi: string, held: string) =>
      file(
        [],
        `roles:\n  lo: { grants: [{ on: "app.*", privileges: [SELECT] }], roles: [${lo}] }\n  hi: { grants: [{ on: "app1.*", privileges: [SELECT] }], roles: [${hi}] }\n`,
      ).replace('    grants:\n      []', `    roles: [${held}]`);
    const reaches = async () => {
      return allowedEach(client(), ['SELECT * FROM app.t', 'SELECT * FROM app1.t']);
    };
    await converge(graph('hi', '', 'lo'));
    expect(await reaches()).toEqual([true, true]);
    const turned = await run(graph('', 'lo', 'hi'), 'plan');
    expect(turned.plans[0]!.actions.map((a) => `${a.kind} ${a.user}: ${a.reason}`)).toEqual([
      'update_grant fid: grants differ: +role hi, -role lo',
      'update_grant lo: grants differ: -role hi',
      'update_grant hi: grants differ: +role lo',
    ]);
    await converge(graph('', 'lo', 'hi'));
    expect(await reaches()).toEqual([true, true]);
    expect(await roleEdges('lo', 'hi', 'fid')).toEqual([
      { User: 'fid', Role: 'hi' },
      { User: 'hi', Role: 'lo' },
    ]);
    await converge(file([]));
  });

  it('adopting a role whose declared roles hold it by hand now converges in one apply: that edge waits for the revoke', async () => {
    const rx = '  rx: { grants: [{ on: "app.*", privileges: [SELECT] }], roles: [] }\n';
    await converge(file([], `roles:\n${rx}`));
    for (const sql of ['CREATE ROLE rz', 'GRANT INSERT ON other.* TO rz', 'GRANT rz TO rx'])
      await admin.query(sql);
    const adopted = file(
      [],
      `roles:\n${rx}  rz: { grants: [{ on: "other.*", privileges: [INSERT] }], roles: [rx], adopt: true }\n`,
    ).replace('    grants:\n      []', '    roles: [rz]');
    const planned = await run(adopted, 'plan');
    expect(planned.plans[0]!.actions.map((a) => `${a.kind} ${a.user}`)).toEqual([
      'create_role rz',
      'update_grant fid',
      'update_grant rx',
      'update_grant rz',
    ]);
    await converge(adopted);
    expect(await roleEdges('rx', 'rz', 'fid')).toEqual([
      { User: 'fid', Role: 'rz' },
      { User: 'rz', Role: 'rx' },
    ]);
    expect(await allowedEach(client(), ['INSERT INTO other.t VALUES (1)', 'SELECT * FROM app.t'])).toEqual([
      true,
      true,
    ]);
    await converge(file([]));
  });
});

describe('what only the server knows', () => {
  it('reports a grant on a table that does not exist in the plan, and leaves that account alone', async () => {
    const yaml = file(['{ on: "app.nope", privileges: [SELECT] }']).replace(
      '- name: fid',
      '- name: fid_missing',
    );
    const planned = await run(yaml, 'plan');
    expect(planned.plans[0]!.actions.map((a) => a.user)).not.toContain('fid_missing');
    expect(planned.plans[0]!.skipped).toContainEqual(
      expect.objectContaining({
        user: 'fid_missing',
        reason: 'missing object',
        detail: expect.stringMatching(/app\.nope/),
      }),
    );
    await run(yaml, 'apply');
    expect(await admin.query("SELECT User FROM mysql.global_priv WHERE User = 'fid_missing'")).toEqual([]);
  });

  it('refuses a routine grant naming anything outside ASCII, which MariaDB loses at its next FLUSH PRIVILEGES; an ASCII one survives it', async () => {
    // The server's behaviour: procs_priv gets the names double-encoded, so the grant works only until reloaded.
    await admin.query('CREATE DATABASE `dé`');
    await admin.query('CREATE PROCEDURE `dé`.`pé`() SELECT 1');
    await admin.query("CREATE USER 'by_hand'@'%' IDENTIFIED BY 'by-hand-pw'");
    await admin.query("GRANT EXECUTE ON PROCEDURE `dé`.`pé` TO 'by_hand'@'%'");
    const callAsByHand = async () => {
      const db = await loginAs(server, 'by_hand', 'by-hand-pw');
      const can = await allowed(db, 'CALL `dé`.`pé`()');
      await db.close();
      return can;
    };
    expect(await callAsByHand()).toBe(true);
    await admin.query('FLUSH PRIVILEGES');
    expect(await callAsByHand(), 'MariaDB lost the grant: the rule below can go once it keeps it').toBe(
      false,
    );
    await admin.query("DROP USER 'by_hand'@'%'");
    await admin.query('DROP DATABASE `dé`');

    const refused = await run(file(['{ on: "PROCEDURE app.prüfen", privileges: [EXECUTE] }']), 'plan');
    expect(refused.diagnostics.map((d) => `${d.line}:${d.col} ${d.code}`)).toEqual(['9:15 BAD_GRANT_TARGET']);
    expect(refused.diagnostics[0]!.message).toMatch(/"prüfen" at its next restart/);

    await admin.query('CREATE PROCEDURE app.p() SELECT 1');
    await converge(file(['{ on: "PROCEDURE app.p", privileges: [EXECUTE] }']));
    await admin.query('FLUSH PRIVILEGES');
    expect(await allowedEach(client(), ['CALL app.p()'])).toEqual([true]);
    expect(
      (await run(file(['{ on: "PROCEDURE app.p", privileges: [EXECUTE] }']), 'plan')).plans[0]!.actions,
    ).toEqual([]);
  });

  it('reports a grant on a column the table lacks in the plan; names the server matches in any case (columns, routines) are not missing', async () => {
    const missingColumn = file(['{ on: "app.t", columns: [a, nope], privileges: [SELECT] }']).replace(
      '- name: fid',
      '- name: fid_column',
    );
    const planned = await run(missingColumn, 'plan');
    expect(planned.plans[0]!.skipped).toContainEqual(
      expect.objectContaining({
        user: 'fid_column',
        reason: 'missing object',
        detail: expect.stringMatching(/^its grants name app\.t\(nope\), which the server does not have/),
      }),
    );
    await run(missingColumn, 'apply');
    expect(await admin.query("SELECT User FROM mysql.global_priv WHERE User = 'fid_column'")).toEqual([]);

    await admin.query('CREATE PROCEDURE app.Mixed() SELECT 1');
    const anyCase = file([
      '{ on: "app.t", columns: [A, b], privileges: [SELECT] }',
      '{ on: "PROCEDURE app.mixed", privileges: [EXECUTE] }',
    ]);
    await converge(anyCase);
    expect(await allowedEach(client(), ['SELECT a, b FROM app.t', 'CALL app.Mixed()'])).toEqual([true, true]);
  });

  it('takes a routine grant made by hand in another case for the declared one: nothing to do, never a revoke of it', async () => {
    await admin.query('CREATE PROCEDURE app.q() SELECT 1');
    const yaml = file(['{ on: "PROCEDURE app.q", privileges: [EXECUTE] }']);
    await converge(yaml);
    await admin.query("REVOKE EXECUTE ON PROCEDURE app.q FROM 'fid'@'%'");
    await admin.query("GRANT EXECUTE ON PROCEDURE app.Q TO 'fid'@'%'");
    await converge(yaml);
    expect(await allowedEach(client(), ['CALL app.q()'])).toEqual([true]);
  });

  it('plans no password a MariaDB checking passwords strictly would refuse as a hash, keeps the rest, and plans it once strict_password_validation is off', async () => {
    const users = (...names: string[]) =>
      file(['{ database: app, privileges: [SELECT, INSERT] }']).replace(
        /users:\n[\s\S]*/,
        `users:\n${names.map((n) => `  - { name: ${n}, cluster: main, grants: [{ database: app, privileges: [SELECT${n === 'pw_old' ? ', INSERT' : ''}] }] }`).join('\n')}\n`,
      );
    await converge(users('pw_old').replace(', INSERT', ''));
    await admin.query("INSTALL SONAME 'simple_password_check'");
    try {
      // What dbusers generates passes the plugin in clear, as MySQL's validate_password sees it.
      for (let i = 0; i < 20; i++) {
        await admin.query(`CREATE USER 'pw_probe'@'%' IDENTIFIED BY ${quoteString(generatePassword())}`);
        await admin.query("DROP USER 'pw_probe'@'%'");
      }
      const yaml = users('pw_old', 'pw_new');
      const planned = await reconcileLocally(env, { 'users/fidelity.yaml': yaml }, 'plan', {
        resetRequested: ['pw_old@%'],
      });
      const plan = planned.plans[0]!;
      expect(plan.actions.map((a) => `${a.kind} ${a.user}`)).toEqual(['update_grant pw_old']);
      const refused = plan.skipped.filter((k) => k.reason === 'unsupported');
      expect(refused.map((k) => k.user)).toEqual(['pw_new', 'pw_old']);
      expect(refused[0]!.detail).toMatch(
        /^the server checks passwords \(simple_password_check\) with strict_password_validation ON, so it refuses a password given as its hash/,
      );
      const applied = await run(yaml, 'apply');
      expect(applied.results.every((r) => r.ok)).toBe(true);
      const secret = await env.secretsFor('555566667777').getValue('rds-main-pw_old-secret', 'AWSCURRENT');
      const old = await loginAs(server, 'pw_old', secret!.password);
      expect(await allowed(old, 'INSERT INTO app.t (a) VALUES (1)')).toBe(true);
      await old.close();

      await admin.query('SET GLOBAL strict_password_validation = OFF');
      await converge(yaml);
      const made = await env.secretsFor('555566667777').getValue('rds-main-pw_new-secret', 'AWSCURRENT');
      const fresh = await loginAs(server, 'pw_new', made!.password);
      expect(await allowed(fresh, 'SELECT * FROM app.t')).toBe(true);
      await fresh.close();
    } finally {
      await admin.query('SET GLOBAL strict_password_validation = ON');
      await admin.query("UNINSTALL SONAME 'simple_password_check'");
      await run(file([]).replace(/users:\n[\s\S]*/, 'users: []\n'), 'apply');
    }
  });

  it("resets a managed password the server has expired, by hand or by its lifetime, and honours an account's own lifetime", async () => {
    const yaml = file(['{ database: app, privileges: [SELECT] }']);
    await converge(yaml);
    const reasons = async (now = 0) =>
      (await reconcileLocally(env, { 'users/fidelity.yaml': yaml }, 'plan', { now })).plans[0]!.actions.map(
        (a) => `${a.kind}: ${a.reason}`,
      );
    await admin.query("ALTER USER 'fid'@'%' PASSWORD EXPIRE");
    const expired = await client();
    expect(await expired.query('SELECT 1').catch((e: Error) => e.message)).toMatch(/must SET PASSWORD/);
    await expired.close();
    expect(await reasons()).toEqual([
      'reset_password: the server has expired its password (PASSWORD EXPIRE): clients are refused',
    ]);
    await converge(yaml);
    const reset = await client();
    expect(await allowed(reset, 'SELECT * FROM app.t')).toBe(true);
    await reset.close();

    // A lifetime of one day: due a day after the last change, not before.
    const [{ changed }] = (await admin.query(
      "SELECT JSON_VALUE(Priv, '$.password_last_changed') AS changed FROM mysql.global_priv WHERE User = 'fid'",
    )) as [{ changed: string }];
    // The account dbusers connects as must not expire meanwhile: its password is as old as the server.
    const roots = (
      await admin.query<{ h: string }>("SELECT Host AS h FROM mysql.global_priv WHERE User = 'root'")
    ).map((r) => `'root'@${quoteString(r.h)}`);
    for (const root of roots) await admin.query(`ALTER USER ${root} PASSWORD EXPIRE NEVER`);
    await admin.query('SET GLOBAL default_password_lifetime = 1');
    try {
      expect(await reasons(Number(changed) + 3_600)).toEqual([]);
      expect(await reasons(Number(changed) + 86_400)).toEqual([
        'reset_password: its password is older than its lifetime on the server (1 day): clients are refused',
      ]);
      await admin.query("ALTER USER 'fid'@'%' PASSWORD EXPIRE NEVER");
      expect(await reasons(Number(changed) + 86_400)).toEqual([]);
    } finally {
      await admin.query('SET GLOBAL default_password_lifetime = 0');
      for (const account of ["'fid'@'%'", ...roots])
        await admin.query(`ALTER USER ${account} PASSWORD EXPIRE DEFAULT`);
    }
  });

  it("names what MariaDB's PUBLIC role grants in the plan, since every account holds it", async () => {
    const yaml = file(['{ on: "app.*", privileges: [SELECT] }']);
    await converge(yaml);
    await admin.query('GRANT SELECT, INSERT ON other.* TO PUBLIC');
    try {
      expect(await allowedEach(client(), ['INSERT INTO other.t VALUES (1)'])).toEqual([true]);
      const text = renderText((await run(yaml, 'plan')).plans);
      expect(text).toContain(
        "! protected: 'PUBLIC'@'': MariaDB's PUBLIC role, so every account holds what it grants: SELECT on other.*, INSERT on other.*",
      );
      expect(text).toContain('no changes: the server matches the YAML');
    } finally {
      await admin.query('REVOKE SELECT, INSERT ON other.* FROM PUBLIC');
    }
    expect(renderText((await run(yaml, 'plan')).plans)).not.toMatch(/PUBLIC role/);
  });

  it('reports a PROXY grant made by hand on a managed account, which no YAML can declare, and leaves the account alone', async () => {
    const yaml = file(['{ on: "app.*", privileges: [SELECT] }']).replace('- name: fid', '- name: fid_proxy');
    await converge(yaml);
    await admin.query("CREATE USER 'fid_boss'@'%'");
    await admin.query("GRANT PROXY ON 'fid_boss'@'%' TO 'fid_proxy'@'%'");
    const planned = await run(yaml, 'plan');
    expect(planned.plans[0]!.skipped).toContainEqual({
      user: 'fid_proxy',
      host: '%',
      reason: 'unsupported',
      detail: expect.stringMatching(/^it may act as 'fid_boss'@'%' \(PROXY, granted by hand\)/),
    });
    await admin.query("REVOKE PROXY ON 'fid_boss'@'%' FROM 'fid_proxy'@'%'");
    expect((await run(yaml, 'plan')).plans.flatMap((p) => p.actions)).toEqual([]);
    expect((await run(yaml, 'plan')).plans[0]!.skipped.map((k) => k.user)).not.toContain('fid_proxy');
    await admin.query("DROP USER 'fid_boss'@'%'");
  });

  it('reports a managed user locked by hand, which no YAML declares, and leaves it locked and as it is', async () => {
    const yaml = file(['{ on: "app.*", privileges: [SELECT] }']).replace('- name: fid', '- name: fid_locked');
    await converge(yaml);
    await admin.query("ALTER USER 'fid_locked'@'%' ACCOUNT LOCK");
    await admin.query("GRANT INSERT ON app.* TO 'fid_locked'@'%'");
    const planned = await run(yaml, 'plan');
    expect(planned.plans[0]!.skipped).toContainEqual({
      user: 'fid_locked',
      host: '%',
      reason: 'unsupported',
      detail: expect.stringMatching(/^it is locked \(ACCOUNT LOCK, set by hand\)/),
    });
    expect(planned.plans[0]!.actions.map((a) => a.user)).not.toContain('fid_locked');
    await run(yaml, 'apply');
    const [row] = await admin.query<{ locked: string; i: string }>(
      "SELECT JSON_VALUE(g.Priv, '$.account_locked') AS locked, d.Insert_priv AS i FROM mysql.global_priv g JOIN mysql.db d ON d.User = g.User AND d.Host = g.Host WHERE g.User = 'fid_locked'",
    );
    expect(row).toEqual({ locked: '1', i: 'Y' });
    await admin.query("ALTER USER 'fid_locked'@'%' ACCOUNT UNLOCK");
    await converge(yaml);
  });
});

describe('the run owns its identity', () => {
  const yaml = () =>
    file(['{ on: "app.*", privileges: [SELECT] }']).replace('- name: fid', '- name: fid_ledger');
  const apply = (eventId: string) =>
    reconcile(
      {
        source: new MemorySource({ 'users/fidelity.yaml': yaml() }),
        dispatcher: new LocalDispatcher(env),
        events: { publish: async () => undefined },
      },
      { mode: 'apply', policy: 'sync', revision: 'c0ffee', eventId, planOptions: { now: 0 } },
    );

  it('repairs a drift that comes back under a new event, and answers a redelivered event from its record', async () => {
    expect((await apply('event-1')).status).toBe('applied');
    const grant = "GRANT INSERT ON app.* TO 'fid_ledger'@'%'";
    const inserts = async () =>
      (await admin.query<{ i: string }>("SELECT Insert_priv AS i FROM mysql.db WHERE User = 'fid_ledger'"))[0]
        ?.i;
    await admin.query(grant);
    const repaired = await apply('event-2');
    expect(repaired.results[0]!.replayed).toBeUndefined();
    expect(await inserts()).toBe('N');
    await admin.query(grant); // the same drift comes back...
    const again = await apply('event-3'); // ...and the next event, same commit, same plan, repairs it again
    expect(again.results[0]!.replayed).toBeUndefined();
    expect(await inserts()).toBe('N');
    await admin.query(grant);
    const redelivered = await apply('event-3'); // the same event delivered twice: answered from the record
    expect(redelivered.results[0]!.replayed).toBe(true);
  });
});

describe('secret names that move between users', () => {
  /** Users on the fidelity cluster, each with its own secretName. */
  const users = (list: [name: string, secret: string][]) => `account: "555566667777"
alias: fidelity
clusters:
  - { name: main, region: eu-west-1, engine: mariadb, endpoint: db.example.com, port: 3306, masterSecretArn: "arn:aws:secretsmanager:eu-west-1:555566667777:secret:m", databases: [app] }
users:
${list.map(([name, secret]) => `  - { name: ${name}, cluster: main, secretName: ${secret}, grants: [{ database: app, profile: readonly }] }`).join('\n')}
`;
  const secrets = () => env.secretsFor('555566667777');
  const logsIn = async (user: string, secret: string) => {
    const value = await secrets().getValue(secret, 'AWSCURRENT');
    expect(value?.username).toBe(user);
    await (await loginAs(server, user, value!.password)).close();
  };

  it('refuses, in the plan, to move a password to another secret or to give a secret away, and takes the two-step way', async () => {
    await converge(users([['mover', 'move-a']]));
    await logsIn('mover', 'move-a');
    // The executor would refuse both (one secret, one password; never moved): the plan says so first.
    const swapped = users([
      ['mover', 'move-b'],
      ['taker', 'move-a'],
    ]);
    const refused = await run(swapped, 'apply');
    expect(refused.plans.flatMap((p) => p.actions)).toEqual([]);
    expect(refused.plans[0]!.skipped.filter((k) => k.reason === 'secret name')).toEqual([
      expect.objectContaining({
        user: 'mover',
        detail: expect.stringMatching(/^its password is in secret move-a, and the YAML names move-b/),
      }),
      expect.objectContaining({
        user: 'taker',
        detail: expect.stringMatching(
          /^secret move-a holds the password of 'mover'@'%', which stays declared/,
        ),
      }),
    ]);
    await logsIn('mover', 'move-a');
    // The way the refusal gives: remove the account in one change, declare it anew in the next.
    await converge(users([]).replace('users:\n', 'users: []\n'));
    await converge(swapped);
    await logsIn('mover', 'move-b');
    await logsIn('taker', 'move-a');
    const owned = await admin.query<{ user: string; secret_name: string }>(
      "SELECT user, secret_name FROM _dbusers.managed_accounts WHERE user IN ('mover', 'taker') ORDER BY user",
    );
    expect(owned).toEqual([
      { user: 'mover', secret_name: 'move-b' },
      { user: 'taker', secret_name: 'move-a' },
    ]);
  });

  it('refuses, in the plan, to turn a user made for IAM into a password user, and takes the two-step way', async () => {
    const iam = users([['switcher', 'switch-a']]).replace(
      'secretName: switch-a,',
      'auth: iam, iamPrincipals: ["arn:aws:iam::555566667777:role/app"],',
    );
    // Local mode has no AWSAuthenticationPlugin: the IAM user is made locked, with no password.
    await converge(iam);
    const withPassword = users([['switcher', 'switch-a']]);
    const refused = await run(withPassword, 'apply');
    expect(refused.results.flatMap((r) => r.results)).toEqual([]);
    expect(refused.plans[0]!.skipped).toContainEqual({
      user: 'switcher',
      host: '%',
      reason: 'unsupported',
      detail: expect.stringMatching(/^declared auth: password, but dbusers made it without a password/),
    });
    await converge(users([]).replace('users:\n', 'users: []\n'));
    await converge(withPassword);
    await logsIn('switcher', 'switch-a');
  });
});
