/**
 * MySQL 8.0 / Aurora MySQL 3 and MySQL 5.7 / Aurora MySQL 2: accounts and static global privileges
 * in `mysql.user`, dynamic ones in `global_grants`, roles in `role_edges` / `default_roles` (8.0 only).
 * No MySQL server runs in the tests; this module is unit-tested on the documented table formats.
 */
import { NO_NAMES } from '../model/types.js';
import { quoteAccount, quoteString } from '../sql/escape.js';
import { grantTableQueries } from './grant-tables.js';
import { accountClauses, repeatedText, text, withRole, type AccountIndex, type Dialect } from './common.js';
import {
  COLUMN_PRIVILEGES,
  COMMON_GLOBAL_PRIVILEGES,
  MYSQL_DATABASE_PRIVILEGES,
  ROUTINE_PRIVILEGES,
  TABLE_PRIVILEGES,
  privilegeColumns,
  privilegesOfRow,
} from './privileges.js';

const MYSQL8_DYNAMIC_PRIVILEGES = [
  'APPLICATION_PASSWORD_ADMIN',
  'AUDIT_ADMIN',
  'BACKUP_ADMIN',
  'BINLOG_ADMIN',
  'BINLOG_ENCRYPTION_ADMIN',
  'CONNECTION_ADMIN',
  'ENCRYPTION_KEY_ADMIN',
  'FLUSH_OPTIMIZER_COSTS',
  'FLUSH_STATUS',
  'FLUSH_TABLES',
  'FLUSH_USER_RESOURCES',
  'GROUP_REPLICATION_ADMIN',
  'PERSIST_RO_VARIABLES_ADMIN',
  'REPLICATION_APPLIER',
  'REPLICATION_SLAVE_ADMIN',
  'RESOURCE_GROUP_ADMIN',
  'RESOURCE_GROUP_USER',
  'ROLE_ADMIN',
  'SESSION_VARIABLES_ADMIN',
  'SET_USER_ID',
  'SHOW_ROUTINE',
  'SYSTEM_USER',
  'SYSTEM_VARIABLES_ADMIN',
  'TABLE_ENCRYPTION_ADMIN',
  'XA_RECOVER_ADMIN',
];

/** `mysql.user`: accounts, their auth and their static global privileges (one `Y`/`N` column each). */
function readUsers(rows: Record<string, unknown>[], index: AccountIndex, withRoles: boolean): void {
  const columns = privilegeColumns(rows[0]);
  const pluginOf = repeatedText();
  for (const row of rows) {
    const hasAuth = Number(row.has_auth) === 1;
    // MySQL has no role flag: a locked, expired account without a password is a role (role_edges confirms more).
    const isRole = withRoles && row.account_locked === 'Y' && row.password_expired === 'Y' && !hasAuth;
    const changed = Number(row.pw_changed_unix ?? NaN);
    const plugin = pluginOf(row.plugin);
    const account = index.add(
      {
        user: text(row.User),
        host: text(row.Host),
        kind: isRole ? 'role' : 'user',
        auth: isRole ? 'none' : plugin === 'AWSAuthenticationPlugin' ? 'iam' : hasAuth ? 'password' : 'none',
        plugin,
        locked: row.account_locked === 'Y',
        passwordChangedAt: changed > 0 ? changed : undefined,
        grants: [],
        roles: NO_NAMES,
        adminRoles: NO_NAMES,
        defaultRoles: NO_NAMES,
      },
      text(row.authentication_string),
    );
    for (const privilege of privilegesOfRow(row, columns))
      account.grants.push({ level: 'global', privilege });
    // NULL is the server's default lifetime; a role is expired by definition.
    if (!isRole && row.password_expired === 'Y') account.passwordExpired = true;
    if (row.password_lifetime !== null && row.password_lifetime !== undefined)
      account.passwordLifetime = Number(row.password_lifetime);
    const revokes = partialRevokes(row.User_attributes);
    if (revokes.length > 0) account.partialRevokes = revokes;
  }
}

/** `User_attributes.Restrictions` (MySQL 8 with partial_revokes): `[{ Database, Privileges }]`. */
function partialRevokes(attributes: unknown): string[] {
  const raw = text(attributes);
  if (!raw.includes('Restrictions')) return [];
  try {
    const restrictions =
      (JSON.parse(raw) as { Restrictions?: { Database?: string; Privileges?: string[] }[] }).Restrictions ??
      [];
    return restrictions.flatMap((r) => (r.Privileges ?? []).map((p) => `${p} on ${r.Database}.*`));
  } catch {
    return ['(unreadable User_attributes)'];
  }
}

/** `mysql.role_edges`: FROM is a role granted to TO. */
function readRoleEdges(rows: Record<string, unknown>[], index: AccountIndex): void {
  for (const e of rows) {
    const role = index.get(e.FROM_USER, e.FROM_HOST);
    if (role) Object.assign(role, { kind: 'role', auth: 'none' });
    const grantee = index.get(e.TO_USER, e.TO_HOST);
    if (!grantee) continue;
    grantee.roles = withRole(grantee.roles, text(e.FROM_USER));
    if (e.WITH_ADMIN_OPTION === 'Y') grantee.adminRoles = withRole(grantee.adminRoles, text(e.FROM_USER));
  }
}

const ACCOUNTS_QUERY =
  "SELECT *, authentication_string <> '' AS has_auth, UNIX_TIMESTAMP(password_last_changed) AS pw_changed_unix FROM mysql.user";

/** MySQL rewrites IDENTIFIED BY in its general, slow and binary logs (the hash, or `<secret>`). */
const clauses = accountClauses((password) => `IDENTIFIED BY ${quoteString(password)}`);

const privileges = {
  global: [...COMMON_GLOBAL_PRIVILEGES, 'CREATE ROLE', 'DROP ROLE', ...MYSQL8_DYNAMIC_PRIVILEGES],
  database: MYSQL_DATABASE_PRIVILEGES,
  table: TABLE_PRIVILEGES,
  column: COLUMN_PRIVILEGES,
  routine: ROUTINE_PRIVILEGES,
};

/** MySQL 8.0 / Aurora MySQL 3. */
export const mysql8: Dialect = {
  name: 'mysql8',
  supportsRoles: true,
  roleHost: '%',
  // MySQL documents no reserved role name; `SET DEFAULT ROLE NONE` still means no role.
  reservedRoleNames: [],
  maxUserLength: 32,
  maxHostLength: 255,
  multipleDefaultRoles: true,
  privileges,
  inspectQueries: (dbColumns) => [
    { name: 'accounts', sql: ACCOUNTS_QUERY, read: (rows, index) => readUsers(rows, index, true) },
    {
      name: 'global_grants',
      sql: 'SELECT USER, HOST, PRIV, WITH_GRANT_OPTION FROM mysql.global_grants',
      read(rows, index) {
        for (const row of rows) {
          const account = index.get(row.USER, row.HOST);
          account?.grants.push({ level: 'global', privilege: text(row.PRIV) });
          if (row.WITH_GRANT_OPTION === 'Y')
            account?.grants.push({ level: 'global', privilege: 'GRANT OPTION' });
        }
      },
    },
    ...grantTableQueries(dbColumns),
    {
      name: 'role_edges',
      sql: 'SELECT FROM_HOST, FROM_USER, TO_HOST, TO_USER, WITH_ADMIN_OPTION FROM mysql.role_edges',
      read: readRoleEdges,
    },
    {
      name: 'default_roles',
      sql: 'SELECT HOST, USER, DEFAULT_ROLE_HOST, DEFAULT_ROLE_USER FROM mysql.default_roles',
      read(rows, index) {
        for (const d of rows) {
          const account = index.get(d.USER, d.HOST);
          if (account) account.defaultRoles = withRole(account.defaultRoles, text(d.DEFAULT_ROLE_USER));
        }
      },
    },
  ],
  account(a, kind) {
    return kind === 'role' ? quoteAccount(a.user, '%') : clauses.account(a);
  },
  createUser: clauses.createUser,
  setPassword: clauses.setPassword,
  setPasswordRetaining: (a, password) => `${clauses.setPassword(a, password)} RETAIN CURRENT PASSWORD`,
  discardOldPassword: (a) => `ALTER USER ${clauses.account(a)} DISCARD OLD PASSWORD`,
  createRole(name) {
    return `CREATE ROLE IF NOT EXISTS ${quoteAccount(name, '%')}`;
  },
  dropAccount(a, kind) {
    return kind === 'role'
      ? `DROP ROLE IF EXISTS ${quoteAccount(a.user, '%')}`
      : `DROP USER IF EXISTS ${clauses.account(a)}`;
  },
  grantRole(role, grantee, admin) {
    return `GRANT ${quoteAccount(role, '%')} TO ${grantee}${admin ? ' WITH ADMIN OPTION' : ''}`;
  },
  revokeRole(role, grantee) {
    return `REVOKE ${quoteAccount(role, '%')} FROM ${grantee}`;
  },
  revokeAdminOption(role, grantee) {
    // MySQL has no REVOKE ADMIN OPTION FOR: revoke the role and grant it again without.
    return [
      `REVOKE ${quoteAccount(role, '%')} FROM ${grantee}`,
      `GRANT ${quoteAccount(role, '%')} TO ${grantee}`,
    ];
  },
  tableRevokeDropsColumns: false,
  setDefaultRoles(grantee, roles) {
    const list = roles.length === 0 ? 'NONE' : roles.map((r) => quoteAccount(r, '%')).join(', ');
    return [`SET DEFAULT ROLE ${list} TO ${grantee}`];
  },
};

/** MySQL 5.7 / Aurora MySQL 2: no roles, no dynamic privileges. */
export const mysql57: Dialect = {
  ...mysql8,
  name: 'mysql57',
  supportsRoles: false,
  // MySQL 5.7 has no dual passwords.
  setPasswordRetaining: undefined,
  discardOldPassword: undefined,
  maxHostLength: 60,
  multipleDefaultRoles: false,
  privileges: { ...privileges, global: COMMON_GLOBAL_PRIVILEGES },
  inspectQueries: (dbColumns) => [
    { name: 'accounts', sql: ACCOUNTS_QUERY, read: (rows, index) => readUsers(rows, index, false) },
    ...grantTableQueries(dbColumns),
  ],
};
