import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  LocalDispatcher,
  type LocalEnvironment,
} from '../../reconciler/src/adapters/local/local-dispatcher.js';
import type { Database } from '../../reconciler/src/adapters/mysql/database.js';
import { importYaml } from '../../reconciler/src/desired/import.js';
import { loadDesired } from '../../reconciler/src/desired/load.js';
import { localServer, reconcileLocally, shownGrants } from '../support/server.js';

let admin: Database;
let env: LocalEnvironment;
let stop: () => Promise<void>;

const CLUSTER = `account: "666677778888"
alias: legacy
clusters:
  - { name: main, region: eu-west-1, engine: mariadb, endpoint: db.example.com, port: 3306, masterSecretArn: "arn:aws:secretsmanager:eu-west-1:666677778888:secret:m", databases: [] }
`;

const ACCOUNTS = [
  'superish',
  'multi',
  'colgo',
  'columns2',
  'patterned',
  'usage_go',
  'routine_user',
  'keeper',
  'admin_holder',
  "o'brien",
  'tab\tuser',
  'locked_one',
  'two_roles',
  'no_default',
  'side_role',
  'shadowed',
  'every_db',
  'proxy_holder',
  'anyone',
  'legacy_caller',
  'odd_table',
  'odd_proxy',
];

beforeAll(async () => {
  ({ admin, env, stop } = await localServer([
    'CREATE DATABASE app',
    'CREATE DATABASE app1',
    'CREATE TABLE app.t (a INT, b INT)',
    'CREATE PROCEDURE app.p() BEGIN END',
    "CREATE USER 'superish'@'%' IDENTIFIED BY 'x'",
    "GRANT ALL PRIVILEGES ON *.* TO 'superish'@'%' WITH GRANT OPTION",
    "CREATE USER 'multi'@'%' IDENTIFIED BY 'x'",
    "CREATE USER 'multi'@'10.0.%' IDENTIFIED BY 'y'",
    "GRANT SELECT ON app.* TO 'multi'@'10.0.%'",
    "CREATE USER 'colgo'@'%' IDENTIFIED BY 'x'",
    "GRANT SELECT (a), UPDATE (b) ON app.t TO 'colgo'@'%' WITH GRANT OPTION",
    "CREATE USER 'columns2'@'%' IDENTIFIED BY 'x'",
    "GRANT INSERT (a, b), UPDATE (b) ON app.t TO 'columns2'@'%'",
    "CREATE USER 'patterned'@'%' IDENTIFIED BY 'x'",
    "GRANT SELECT ON `app_`.* TO 'patterned'@'%'",
    "GRANT INSERT ON `app\\_x`.* TO 'patterned'@'%'",
    "CREATE USER 'usage_go'@'%' IDENTIFIED BY 'x'",
    "GRANT USAGE ON app.* TO 'usage_go'@'%' WITH GRANT OPTION",
    "CREATE USER 'routine_user'@'%' IDENTIFIED BY 'x'",
    "GRANT EXECUTE ON PROCEDURE app.p TO 'routine_user'@'%'",
    'CREATE ROLE keeper',
    'GRANT SELECT ON app.* TO keeper',
    "CREATE USER 'admin_holder'@'%' IDENTIFIED BY 'x'",
    "GRANT keeper TO 'admin_holder'@'%' WITH ADMIN OPTION",
    "SET DEFAULT ROLE keeper FOR 'admin_holder'@'%'",
    // A name Secrets Manager cannot take, on two hosts, and one no YAML can declare (a tab in it).
    "CREATE USER 'o\\'brien'@'%' IDENTIFIED BY 'x'",
    "CREATE USER 'o\\'brien'@'10.%' IDENTIFIED BY 'y'",
    "GRANT SELECT ON app.* TO 'o\\'brien'@'%'",
    "CREATE USER 'tab\\tuser'@'%' IDENTIFIED BY 'x'",
    "GRANT SELECT ON app.* TO 'tab\\tuser'@'%'",
    // Several roles, one of them default (MariaDB activates one), and a role held with none default.
    'CREATE ROLE side_role',
    "CREATE USER 'two_roles'@'%' IDENTIFIED BY 'x'",
    "GRANT keeper TO 'two_roles'@'%'",
    "GRANT side_role TO 'two_roles'@'%'",
    "SET DEFAULT ROLE side_role FOR 'two_roles'@'%'",
    "CREATE USER 'no_default'@'%' IDENTIFIED BY 'x'",
    "GRANT keeper TO 'no_default'@'%'",
    // A LIKE pattern that matches the system schemas too: imported with an exception to review.
    "CREATE USER 'every_db'@'%' IDENTIFIED BY 'x'",
    "GRANT SELECT ON `%`.* TO 'every_db'@'%'",
    // PROXY has no YAML spelling: left out, as plans would refuse it.
    "CREATE USER 'proxy_holder'@'%' IDENTIFIED BY 'x'",
    "GRANT PROXY ON 'keeper_user'@'%' TO 'proxy_holder'@'%'",
    // An anonymous user on localhost, which the server matches before 'anyone'@'%' for a login from here.
    "CREATE USER ''@'localhost'",
    "CREATE USER 'anyone'@'%' IDENTIFIED BY 'x'",
    // On '%' and on 'localhost', which the server matches first for a login from here.
    "CREATE USER 'shadowed'@'%' IDENTIFIED BY 'x'",
    "CREATE USER 'shadowed'@'localhost' IDENTIFIED BY 'y'",
    // A routine grant MariaDB stores double-encoded (a database name outside ASCII): no YAML declares it.
    'CREATE DATABASE `läden`',
    'CREATE PROCEDURE `läden`.p() BEGIN END',
    "CREATE USER 'legacy_caller'@'%' IDENTIFIED BY 'x'",
    "GRANT EXECUTE ON PROCEDURE `läden`.p TO 'legacy_caller'@'%'",
    // Names the server takes and no YAML can: a table named with a newline, and a PROXY grant naming
    // one; the comment that leaves them out must not end at it, or the rest would be YAML.
    'CREATE TABLE app.`t\nusers: [] #` (a INT)',
    "CREATE USER 'odd_table'@'%' IDENTIFIED BY 'x'",
    "GRANT SELECT ON app.`t\nusers: [] #` TO 'odd_table'@'%'",
    "CREATE USER 'odd_proxy'@'%' IDENTIFIED BY 'x'",
    "GRANT PROXY ON 'x\nusers: []'@'%' TO 'odd_proxy'@'%'",
    // Locked by hand: adopting it would reset its password, and the login test would fail every run.
    "CREATE USER 'locked_one'@'%' IDENTIFIED BY 'x' ACCOUNT LOCK",
    "GRANT SELECT ON app.* TO 'locked_one'@'%'",
  ]));
});

afterAll(async () => {
  await stop?.();
});

describe('import', () => {
  it('round-trips: validates, plans only adoptions, applies, plans nothing, and no privilege is lost', async () => {
    const before = await shownGrants(admin, ACCOUNTS);
    const [target] = loadDesired(new Map([['users/legacy.yaml', CLUSTER]])).targets;
    const actual = await new LocalDispatcher(env).inspect(target!.cluster, []);
    const yaml = importYaml(target!.cluster, actual);

    expect(yaml).not.toMatch(/name: (root|mariadb\.sys|PUBLIC)\b/);
    const files = { 'users/legacy.yaml': yaml };
    const loaded = loadDesired(new Map(Object.entries(files)));
    expect(loaded.diagnostics, yaml).toEqual([]);
    expect(yaml).toContain('#   "tab\\tuser@%": "tab\\tuser" holds control characters');
    expect(yaml).toContain('#   "locked_one@%": locked (ACCOUNT LOCK), which no YAML declares');
    expect(yaml).toContain(
      '#   "odd_table@%": holds a grant on "t\\nusers: [] #", a name no YAML can declare',
    );
    expect(yaml).toContain("#   \"odd_proxy@%\": may act as 'x\\u000ausers: []'@'%' (PROXY)");
    expect(yaml).toMatch(
      /# {3}"legacy_caller@%": holds EXECUTE on PROCEDURE l.+den\.p, named outside ASCII, which MariaDB stores double-encoded/,
    );
    expect(yaml).toContain(
      `#   "proxy_holder@%": may act as 'keeper_user'@'%' (PROXY), which no YAML declares`,
    );
    const exceptions = (parse(yaml) as { privilegeExceptions: Record<string, unknown>[] })
      .privilegeExceptions;
    expect(exceptions).toContainEqual(
      expect.objectContaining({ account: 'every_db@%', on: '`%`.*', pattern: true, privileges: ['SELECT'] }),
    );
    expect(yaml.match(/secretName: rds-main-o_brien-[0-9a-f]{8}-secret/g)).toHaveLength(2);
    // The columns of a table holding the same privileges share one entry, as a person writes them.
    const users = (parse(yaml) as { users: { name: string; grants: unknown[] }[] }).users;
    const rolesOf = (name: string) =>
      (users.find((u) => u.name === name) as unknown as { roles: unknown[] }).roles;
    expect(rolesOf('two_roles')).toEqual([{ name: 'keeper', default: false }, 'side_role']);
    expect(rolesOf('no_default')).toEqual([{ name: 'keeper', default: false }]);
    expect(users.find((u) => u.name === 'columns2')!.grants).toEqual([
      { on: 'app.t', columns: ['a', 'b'], privileges: ['INSERT'] },
      { on: 'app.t', columns: ['b'], privileges: ['UPDATE'] },
    ]);
    const run = (mode: 'plan' | 'apply') => reconcileLocally(env, files, mode);

    const planned = await run('plan');
    const actions = planned.plans.flatMap((p) => p.actions);
    // One adoption per account imported, besides the six left out (two users have a second host).
    expect(actions.length).toBeGreaterThanOrEqual(ACCOUNTS.length - 6 + 2);
    expect(
      actions.every((a) => (a.kind === 'create_user' || a.kind === 'create_role') && a.adopt),
      JSON.stringify(actions, null, 1),
    ).toBe(true);
    expect(planned.plans[0]!.exceptions.map((e) => e.user)).toContain('superish');

    const applied = await run('apply');
    expect(
      applied.results.every((r) => r.ok),
      JSON.stringify(applied.results),
    ).toBe(true);
    const shadowed = applied.results
      .flatMap((r) => r.results)
      .find((r) => r.user === 'shadowed' && r.host === '%');
    const anyone = applied.results.flatMap((r) => r.results).find((r) => r.user === 'anyone');
    expect(anyone?.warnings).toEqual([
      "login not tested: the server may match ''@'localhost' first from where the executor connects",
    ]);
    expect(shadowed?.warnings).toEqual([
      "login not tested: the server may match 'shadowed'@'localhost' first from where the executor connects",
    ]);
    expect((await run('plan')).plans.flatMap((p) => p.actions)).toEqual([]);
    expect(await shownGrants(admin, ACCOUNTS)).toEqual(before);
  });
});
