/**
 * The dialect module on the documented formats: MySQL 8 / 5.7 grant-table rows (no MySQL server runs
 * here), MariaDB's global_priv JSON, and the statements each dialect writes.
 */
import { describe, expect, it } from 'vitest';
import { nativePasswordHash, passwordMatches } from '../../reconciler/src/dialect/common.js';
import { dialectForEngine, dialectForVersion, readAccounts } from '../../reconciler/src/dialect/index.js';
import { mariadb } from '../../reconciler/src/dialect/mariadb.js';
import { mysql57, mysql8 } from '../../reconciler/src/dialect/mysql.js';
import { decodeAccessBits } from '../../reconciler/src/dialect/privileges.js';
import { renderGrants, renderRevokes } from '../../reconciler/src/dialect/statements.js';
import { importYaml } from '../../reconciler/src/desired/import.js';
import { parse } from 'yaml';
import { emptyAuroraServer, ordersCluster } from '../support/fixtures.js';

/** mysql.user columns as MySQL 8.0 defines them (reference/mysql-mariadb.md §1.2), abridged to what matters. */
const mysqlUser = (User: string, Host: string, extra: Record<string, unknown> = {}) => ({
  Host,
  User,
  Select_priv: 'N',
  Insert_priv: 'N',
  Process_priv: 'N',
  Grant_priv: 'N',
  Create_role_priv: 'N',
  plugin: 'caching_sha2_password',
  has_auth: 1,
  account_locked: 'N',
  password_expired: 'N',
  pw_changed_unix: '1795420131',
  User_attributes: null,
  ...extra,
});

describe('MySQL 8 dialect', () => {
  const results = {
    accounts: [
      mysqlUser('app', '%', { Process_priv: 'Y' }),
      mysqlUser('reporting', '%', {
        has_auth: 0,
        account_locked: 'Y',
        password_expired: 'Y',
        plugin: 'caching_sha2_password',
      }),
      mysqlUser('iam_user', '%', { plugin: 'AWSAuthenticationPlugin' }),
      mysqlUser('rdsadmin', 'localhost', { Select_priv: 'Y', Grant_priv: 'Y' }),
    ],
    global_grants: [{ USER: 'app', HOST: '%', PRIV: 'XA_RECOVER_ADMIN', WITH_GRANT_OPTION: 'N' }],
    // What inspection's query makes of a row: one Y or N per privilege column, in their order.
    db: [{ Host: '%', Db: 'app\\_db', User: 'app', privileges: 'YYNN' }],
    tables: [
      { Host: '%', Db: 'orders', User: 'reporting', Table_name: 'invoices', Table_priv: 'Select,Grant' },
    ],
    columns: [
      {
        Host: '%',
        Db: 'orders',
        User: 'app',
        Table_name: 'invoices',
        Column_name: 'total',
        Column_priv: 'Select,Update',
      },
    ],
    procs: [
      {
        Host: '%',
        Db: 'orders',
        User: 'app',
        Routine_name: 'refund',
        Routine_type: 'PROCEDURE',
        Proc_priv: 'Execute',
      },
    ],
    role_edges: [
      { FROM_HOST: '%', FROM_USER: 'reporting', TO_HOST: '%', TO_USER: 'app', WITH_ADMIN_OPTION: 'N' },
      {
        FROM_HOST: '%',
        FROM_USER: 'reporting',
        TO_HOST: 'localhost',
        TO_USER: 'rdsadmin',
        WITH_ADMIN_OPTION: 'Y',
      },
    ],
    default_roles: [{ HOST: '%', USER: 'app', DEFAULT_ROLE_HOST: '%', DEFAULT_ROLE_USER: 'reporting' }],
  };
  const dbColumns = ['Select_priv', 'Insert_priv', 'Grant_priv', 'Delete_priv'];
  const accounts = readAccounts(mysql8, results, dbColumns);
  const app = accounts.find((a) => a.user === 'app')!;

  it('reads every level of grant into one model', () => {
    expect(app.grants).toEqual(
      expect.arrayContaining([
        { level: 'global', privilege: 'PROCESS' },
        { level: 'global', privilege: 'XA_RECOVER_ADMIN' },
        { level: 'database', database: 'app_db', privilege: 'SELECT' },
        { level: 'database', database: 'app_db', privilege: 'INSERT' },
        { level: 'column', database: 'orders', table: 'invoices', column: 'total', privilege: 'SELECT' },
        { level: 'column', database: 'orders', table: 'invoices', column: 'total', privilege: 'UPDATE' },
        {
          level: 'routine',
          database: 'orders',
          routine: 'refund',
          routineType: 'PROCEDURE',
          privilege: 'EXECUTE',
        },
      ]),
    );
    expect(app.grants).toHaveLength(7);
  });

  it('reads the admin option of a role membership, and partial revokes from User_attributes', () => {
    expect(app.adminRoles).toEqual([]);
    expect(accounts.find((a) => a.user === 'rdsadmin')!.adminRoles).toEqual(['reporting']);
    const [limited] = readAccounts(mysql8, {
      accounts: [
        mysqlUser('limited', '%', {
          Select_priv: 'Y',
          User_attributes: '{"Restrictions": [{"Database": "mysql", "Privileges": ["SELECT"]}]}',
        }),
      ],
    });
    expect(limited!.partialRevokes).toEqual(['SELECT on mysql.*']);
  });

  it('reads an expired password and an account password lifetime (NULL: the server default), never on a role', () => {
    const read = readAccounts(mysql8, {
      accounts: [
        mysqlUser('expired', '%', { password_expired: 'Y', password_lifetime: null }),
        mysqlUser('never', '%', { password_lifetime: 0 }),
        mysqlUser('monthly', '%', { password_lifetime: 30 }),
        mysqlUser('a_role', '%', { has_auth: 0, account_locked: 'Y', password_expired: 'Y' }),
      ],
    });
    expect(read.map((a) => [a.user, a.kind, a.passwordExpired, a.passwordLifetime])).toEqual([
      ['expired', 'user', true, undefined],
      ['never', 'user', undefined, 0],
      ['monthly', 'user', undefined, 30],
      ['a_role', 'role', undefined, undefined],
    ]);
  });

  it('keeps the old password valid during a rotation (dual passwords), then discards it; 5.7 and MariaDB have none', () => {
    expect(mysql8.setPasswordRetaining?.({ user: 'u', host: '%' }, 'pw')).toBe(
      "ALTER USER 'u'@'%' IDENTIFIED BY 'pw' RETAIN CURRENT PASSWORD",
    );
    expect(mysql8.discardOldPassword?.({ user: 'u', host: '%' })).toBe(
      "ALTER USER 'u'@'%' DISCARD OLD PASSWORD",
    );
    expect(mysql57.setPasswordRetaining).toBeUndefined();
    expect(mariadb.setPasswordRetaining).toBeUndefined();
  });

  it('reads roles from role_edges and default roles from default_roles', () => {
    expect(app.roles).toEqual(['reporting']);
    expect(app.defaultRoles).toEqual(['reporting']);
    const role = accounts.find((a) => a.user === 'reporting')!;
    expect(role).toMatchObject({ kind: 'role', auth: 'none' });
    expect(role.grants).toEqual([
      { level: 'table', database: 'orders', table: 'invoices', privilege: 'SELECT' },
      { level: 'table', database: 'orders', table: 'invoices', privilege: 'GRANT OPTION' },
    ]);
  });

  it('refuses a mysql.db row whose privileges do not read as one Y or N per column', () => {
    const short = { ...results, db: [{ Host: '%', Db: 'app\\_db', User: 'app', privileges: 'YY' }] };
    expect(() => readAccounts(mysql8, short, dbColumns)).toThrow(
      "the privileges of app@% on app\\_db read as 'YY', not one Y or N for each of 4 columns",
    );
    const unread = { ...results, db: [{ Host: '%', Db: 'app\\_db', User: 'app', privileges: null }] };
    expect(() => readAccounts(mysql8, unread, dbColumns)).toThrow("read as '', not one Y or N");
  });

  it('import writes a role held but not among the default roles as { name, default: false }', () => {
    const appAgain = readAccounts(
      mysql8,
      {
        ...results,
        accounts: [...results.accounts, mysqlUser('audit', '%', { has_auth: 0, account_locked: 'Y' })],
        role_edges: [
          ...results.role_edges,
          { FROM_HOST: '%', FROM_USER: 'audit', TO_HOST: '%', TO_USER: 'app', WITH_ADMIN_OPTION: 'Y' },
        ],
      },
      dbColumns,
    ).find((a) => a.user === 'app');
    expect(appAgain).toMatchObject({
      user: 'app',
      roles: ['reporting', 'audit'],
      defaultRoles: ['reporting'],
    });
    const yaml = importYaml(ordersCluster, { ...emptyAuroraServer, accounts: [appAgain!] });
    const [app] = (parse(yaml) as { users: { roles: unknown[] }[] }).users;
    expect(app!.roles).toEqual(['reporting', { name: 'audit', admin: true, default: false }]);
  });

  it('knows IAM and password users and when their password changed', () => {
    expect(accounts.find((a) => a.user === 'iam_user')?.auth).toBe('iam');
    expect(app).toMatchObject({ auth: 'password', locked: false, passwordChangedAt: 1795420131 });
  });

  it('reads a whole server in a fixed set of queries', () => {
    expect(mysql8.inspectQueries(dbColumns).map((q) => q.name)).toEqual([
      'accounts',
      'global_grants',
      'db',
      'tables',
      'columns',
      'procs',
      'proxies',
      'role_edges',
      'default_roles',
    ]);
    expect(mysql57.inspectQueries(dbColumns).map((q) => q.name)).toEqual([
      'accounts',
      'db',
      'tables',
      'columns',
      'procs',
      'proxies',
    ]);
  });

  it('writes roles with a host and several default roles', () => {
    expect(mysql8.createRole('reporting')).toBe("CREATE ROLE IF NOT EXISTS 'reporting'@'%'");
    expect(mysql8.grantRole('reporting', "'app'@'%'")).toBe("GRANT 'reporting'@'%' TO 'app'@'%'");
    expect(mysql8.setDefaultRoles("'app'@'%'", ['a', 'b'])).toEqual([
      "SET DEFAULT ROLE 'a'@'%', 'b'@'%' TO 'app'@'%'",
    ]);
    expect(mysql8.setDefaultRoles("'app'@'%'", [])).toEqual(["SET DEFAULT ROLE NONE TO 'app'@'%'"]);
  });

  it('5.7 has no roles and shorter hosts', () => {
    expect(mysql57.supportsRoles).toBe(false);
    expect(mysql57.maxHostLength).toBe(60);
    expect(
      readAccounts(mysql57, {
        accounts: [mysqlUser('x', '%', { has_auth: 0, account_locked: 'Y', password_expired: 'Y' })],
      })[0]?.kind,
    ).toBe('user');
  });
});

describe('MariaDB dialect', () => {
  it('keeps one user on several hosts apart: grants and roles land on the account of their own host', () => {
    const priv = '{"access":0,"plugin":"mysql_native_password","authentication_string":""}';
    const accounts = readAccounts(mariadb, {
      accounts: ['%', 'localhost', '10.0.%'].map((Host) => ({ User: 'app', Host, Priv: priv })),
      tables: [
        { User: 'app', Host: 'localhost', Db: 'shop', Table_name: 't', Table_priv: 'Select' },
        { User: 'app', Host: '10.0.%', Db: 'shop', Table_name: 'u', Table_priv: 'Insert,Select' },
        { User: 'app', Host: 'elsewhere', Db: 'shop', Table_name: 'v', Table_priv: 'Delete' },
        { User: 'nobody', Host: '%', Db: 'shop', Table_name: 'v', Table_priv: 'Delete' },
      ],
      roles: [{ User: 'app', Host: '%', Role: 'reader', Admin_option: 'N' }],
    });
    expect(accounts.map((a) => [a.host, a.grants, a.roles])).toEqual([
      ['%', [], ['reader']],
      ['localhost', [{ level: 'table', database: 'shop', table: 't', privilege: 'SELECT' }], []],
      [
        '10.0.%',
        [
          { level: 'table', database: 'shop', table: 'u', privilege: 'INSERT' },
          { level: 'table', database: 'shop', table: 'u', privilege: 'SELECT' },
        ],
        [],
      ],
    ]);
  });

  it('reads global_priv JSON whether the driver parsed it or not', () => {
    const accounts = readAccounts(mariadb, {
      accounts: [
        {
          User: 'ro',
          Host: '10.0.%',
          Priv: '{"access":274878955776,"plugin":"mysql_native_password","authentication_string":"*D821","account_locked":true,"password_last_changed":1795420131}',
        },
        { User: 'app_read', Host: '', Priv: { access: 0, is_role: true } },
        {
          User: 'plain',
          Host: 'localhost',
          Priv: {
            access: 0,
            plugin: 'mysql_native_password',
            authentication_string: '*AB',
            default_role: 'app_read',
          },
        },
        {
          User: 'iam',
          Host: '%',
          Priv: { access: 0, plugin: 'AWSAuthenticationPlugin', authentication_string: 'RDS' },
        },
      ],
      roles: [{ Host: 'localhost', User: 'plain', Role: 'app_read' }],
    });
    expect(accounts[0]).toMatchObject({
      user: 'ro',
      auth: 'password',
      locked: true,
      passwordChangedAt: 1795420131,
    });
    expect(accounts[0]!.grants).toEqual([
      { level: 'global', privilege: 'PROCESS' },
      { level: 'global', privilege: 'BINLOG MONITOR' },
      { level: 'global', privilege: 'SLAVE MONITOR' },
    ]);
    expect(accounts[1]).toMatchObject({ kind: 'role', auth: 'none' });
    expect(accounts[2]).toMatchObject({ roles: ['app_read'], defaultRoles: ['app_read'] });
    expect(accounts[3]?.auth).toBe('iam');
  });

  it("reads root's 64-bit mask from the JSON text without rounding it (JSON.parse would read PROCESS + SHUTDOWN)", () => {
    const [root] = readAccounts(mariadb, {
      accounts: [
        {
          User: 'r',
          Host: '%',
          Priv: '{"access":18446744073709551615,"plugin":"mysql_native_password","authentication_string":"*AB"}',
        },
      ],
    });
    expect(root!.grants).toHaveLength(39);
    expect(root!.grants).toContainEqual({ level: 'global', privilege: 'SUPER' });
    expect(root!.grants).toContainEqual({ level: 'global', privilege: 'SLAVE MONITOR' });
  });

  it('reads role membership WITH ADMIN OPTION', () => {
    const accounts = readAccounts(mariadb, {
      accounts: [{ User: 'u', Host: '%', Priv: '{"access":0}' }],
      roles: [
        { Host: '%', User: 'u', Role: 'a', Admin_option: 'Y' },
        { Host: '%', User: 'u', Role: 'b', Admin_option: 'N' },
      ],
    });
    expect(accounts[0]).toMatchObject({ roles: ['a', 'b'], adminRoles: ['a'] });
  });

  it('sends the password hash, never the password', () => {
    expect(mariadb.createUser({ user: 'u', host: '%' }, { password: 'secret' })).toBe(
      "CREATE USER 'u'@'%' IDENTIFIED BY PASSWORD '*14E65567ABDB5135D0CFD9A70B3032C179A49EE7'",
    );
    expect(mariadb.setPassword({ user: 'u', host: '%' }, 'secret')).not.toContain("'secret'");
  });

  it("decodes the access bitmask, up to root's 64 bits", () => {
    expect(decodeAccessBits(1)).toEqual(['SELECT']);
    expect(decodeAccessBits('18446744073709551615')).toHaveLength(39);
    expect(decodeAccessBits(null)).toEqual([]);
  });

  it('writes roles without a host and exactly one default role', () => {
    expect(mariadb.createRole("o'r")).toBe("CREATE ROLE IF NOT EXISTS 'o\\'r'");
    expect(mariadb.account({ user: 'r', host: '' }, 'role')).toBe("'r'");
    expect(mariadb.setDefaultRoles("'u'@'%'", ['a'])).toEqual(["SET DEFAULT ROLE 'a' FOR 'u'@'%'"]);
    expect(mariadb.setDefaultRoles("'u'@'%'", [])).toEqual(["SET DEFAULT ROLE NONE FOR 'u'@'%'"]);
  });
});

describe('native password hashes', () => {
  it("computes mysql_native_password's stored form (MySQL's documented PASSWORD('password'))", () => {
    expect(nativePasswordHash('password')).toBe('*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19');
    expect(
      passwordMatches('mysql_native_password', '*2470c0c06dee42fd1618bb99005adca2ec9d1e19', 'password'),
    ).toBe(true);
    expect(passwordMatches('', '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19', 'Password')).toBe(false);
    expect(passwordMatches('caching_sha2_password', '$A$005$salted', 'password')).toBeUndefined();
  });
});

describe('picking a dialect', () => {
  it.each([
    ['10.11.19-MariaDB-0+deb12u1', 'mariadb'],
    ['8.0.36', 'mysql8'],
    ['8.0.32-aurora', 'mysql8'],
    ['5.7.12-log', 'mysql57'],
  ])('%s → %s', (version, name) => expect(dialectForVersion(version).name).toBe(name));
  it.each([
    ['11.4.2-MariaDB', true],
    ['11.3.0-MariaDB-log', true],
    ['12.0.1-MariaDB', true],
    ['11.2.4-MariaDB', false],
    ['10.11.19-MariaDB-0+deb12u1', false],
  ])('MariaDB %s has SHOW CREATE ROUTINE: %s (from 11.3.0)', (version, has) => {
    expect(dialectForVersion(version).privileges.database.includes('SHOW CREATE ROUTINE')).toBe(has);
    expect(
      dialectForEngine('mariadb', version.split('-')[0]).privileges.database.includes('SHOW CREATE ROUTINE'),
    ).toBe(has);
  });
  it('takes an undeclared MariaDB version as one without SHOW CREATE ROUTINE', () => {
    expect(dialectForEngine('mariadb').privileges.database).not.toContain('SHOW CREATE ROUTINE');
    expect(dialectForEngine('mariadb').newerPrivileges).toEqual({ 'SHOW CREATE ROUTINE': '11.3' });
  });
  it('reads Aurora MySQL 2 engine versions as 5.7', () => {
    expect(dialectForEngine('aurora-mysql', '2.11.2').name).toBe('mysql57');
    expect(dialectForEngine('aurora-mysql', '3.05.2').name).toBe('mysql8');
  });
});

describe('GRANT and REVOKE text', () => {
  it('escapes wildcards at database level only, and never writes ALL PRIVILEGES', () => {
    const grants = renderGrants(
      [
        { level: 'database', database: 'app_db', privilege: 'SELECT' },
        { level: 'database', database: 'app_db', privilege: 'GRANT OPTION' },
        { level: 'table', database: 'app_db', table: 'we`ird', privilege: 'SELECT' },
        { level: 'column', database: 'app_db', table: 't', column: 'c', privilege: 'UPDATE' },
        { level: 'routine', database: 'd', routine: 'p', routineType: 'PROCEDURE', privilege: 'EXECUTE' },
        { level: 'global', privilege: 'PROCESS' },
      ],
      "'u'@'%'",
    );
    expect(grants).toEqual([
      "GRANT SELECT ON `app\\_db`.* TO 'u'@'%' WITH GRANT OPTION",
      "GRANT SELECT ON `app_db`.`we``ird` TO 'u'@'%'",
      "GRANT UPDATE (`c`) ON `app_db`.`t` TO 'u'@'%'",
      "GRANT EXECUTE ON PROCEDURE `d`.`p` TO 'u'@'%'",
      "GRANT PROCESS ON *.* TO 'u'@'%'",
    ]);
    expect(grants.join('\n')).not.toContain('ALL');
  });

  it('revokes a wildcard grant exactly as the server stores it', () => {
    expect(
      renderRevokes(
        [{ level: 'database', database: 'app_%', pattern: 'app_%', privilege: 'SELECT' }],
        "'u'@'%'",
      ),
    ).toEqual(["REVOKE SELECT ON `app_%`.* FROM 'u'@'%'"]);
  });
});
