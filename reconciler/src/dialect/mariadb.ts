/** MariaDB 10.4+: accounts in `mysql.global_priv` (JSON), roles in `roles_mapping`, one default role. */
import { NO_NAMES, type AuthKind } from '../model/types.js';
import { quoteString } from '../sql/escape.js';
import { grantTableQueries } from './grant-tables.js';
import {
  accountClauses,
  nativePasswordHash,
  repeatedText,
  text,
  withRole,
  type AccountIndex,
  type Dialect,
} from './common.js';
import {
  COLUMN_PRIVILEGES,
  COMMON_GLOBAL_PRIVILEGES,
  MARIADB_ACCESS_BITS,
  MYSQL_DATABASE_PRIVILEGES,
  ROUTINE_PRIVILEGES,
  TABLE_PRIVILEGES,
  decodeAccessBits,
} from './privileges.js';

/**
 * `Priv` arrives as text (or parsed, from drivers that read the JSON metadata). `access` is a 64-bit
 * mask: JSON.parse would round it above 2^53 (all privileges read as PROCESS + SHUTDOWN), so it is
 * taken from the text as a decimal string.
 */
function privJson(value: unknown): Record<string, unknown> {
  if (value && typeof value === 'object' && !Buffer.isBuffer(value)) return value as Record<string, unknown>;
  const raw = text(value);
  try {
    const priv = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    if (typeof priv.access === 'number' && priv.access > Number.MAX_SAFE_INTEGER)
      priv.access = /"access"\s*:\s*(\d+)/.exec(raw)?.[1];
    return priv;
  } catch {
    return {};
  }
}

function authKind(priv: Record<string, unknown>, isRole: boolean): AuthKind {
  if (isRole) return 'none';
  if (String(priv.plugin ?? '') === 'AWSAuthenticationPlugin') return 'iam';
  return text(priv.authentication_string) !== '' ? 'password' : 'none';
}

/** `mysql.global_priv`: one row per account or role, everything in the `Priv` JSON. */
function readGlobalPriv(rows: Record<string, unknown>[], index: AccountIndex): void {
  const pluginOf = repeatedText();
  for (const row of rows) {
    const priv = privJson(row.Priv);
    const isRole = priv.is_role === true || priv.is_role === 1;
    const changed = Number(priv.password_last_changed ?? NaN);
    const account = index.add(
      {
        user: text(row.User),
        host: text(row.Host),
        kind: isRole ? 'role' : 'user',
        auth: authKind(priv, isRole),
        plugin: pluginOf(priv.plugin),
        locked: priv.account_locked === true || priv.account_locked === 1,
        passwordChangedAt: changed > 0 ? changed : undefined,
        grants: [],
        roles: NO_NAMES,
        adminRoles: NO_NAMES,
        defaultRoles: NO_NAMES,
      },
      text(priv.authentication_string),
    );
    for (const privilege of decodeAccessBits(priv.access))
      account.grants.push({ level: 'global', privilege });
    if (typeof priv.default_role === 'string' && priv.default_role !== '')
      account.defaultRoles = withRole(account.defaultRoles, priv.default_role);
    // PASSWORD EXPIRE stores a last change of 0; a lifetime of -1 is the server's default.
    if (!isRole && priv.password_last_changed === 0) account.passwordExpired = true;
    if (typeof priv.password_lifetime === 'number' && priv.password_lifetime >= 0)
      account.passwordLifetime = priv.password_lifetime;
  }
}

/** The hash, never the password: MariaDB logs statements as sent. */
const clauses = accountClauses(
  (password) => `IDENTIFIED BY PASSWORD ${quoteString(nativePasswordHash(password))}`,
);

/** MariaDB 10.4+ (RDS for MariaDB 10.6, 10.11, 11.x). */
export const mariadb: Dialect = {
  name: 'mariadb',
  supportsRoles: true,
  roleHost: '',
  // "PUBLIC and NONE are reserved, and cannot be used as role names" (CREATE ROLE); 10.11 refuses `public` too.
  reservedRoleNames: ['NONE', 'PUBLIC'],
  newerPrivileges: { 'SHOW CREATE ROUTINE': '11.3' },
  maxUserLength: 128,
  maxHostLength: 255,
  multipleDefaultRoles: false,
  privileges: {
    // DELETE HISTORY is left out of profiles: the RDS for MariaDB master does not hold it.
    global: [...new Set([...COMMON_GLOBAL_PRIVILEGES, ...MARIADB_ACCESS_BITS])].filter(
      (p) => p !== 'GRANT OPTION',
    ),
    database: [...MYSQL_DATABASE_PRIVILEGES, 'DELETE HISTORY'],
    table: [...TABLE_PRIVILEGES, 'DELETE HISTORY'],
    column: COLUMN_PRIVILEGES,
    routine: ROUTINE_PRIVILEGES,
  },
  inspectQueries: (dbColumns) => [
    { name: 'accounts', sql: 'SELECT User, Host, Priv FROM mysql.global_priv', read: readGlobalPriv },
    ...grantTableQueries(dbColumns),
    {
      name: 'roles',
      sql: 'SELECT Host, User, Role, Admin_option FROM mysql.roles_mapping',
      read(rows, index) {
        for (const row of rows) {
          const account = index.get(row.User, row.Host);
          if (!account) continue;
          account.roles = withRole(account.roles, text(row.Role));
          if (row.Admin_option === 'Y') account.adminRoles = withRole(account.adminRoles, text(row.Role));
        }
      },
    },
  ],
  account(a, kind) {
    return kind === 'role' ? quoteString(a.user) : clauses.account(a);
  },
  createUser: clauses.createUser,
  setPassword: clauses.setPassword,
  createRole(name) {
    return `CREATE ROLE IF NOT EXISTS ${quoteString(name)}`;
  },
  dropAccount(a, kind) {
    return kind === 'role'
      ? `DROP ROLE IF EXISTS ${quoteString(a.user)}`
      : `DROP USER IF EXISTS ${clauses.account(a)}`;
  },
  grantRole(role, grantee, admin) {
    return `GRANT ${quoteString(role)} TO ${grantee}${admin ? ' WITH ADMIN OPTION' : ''}`;
  },
  revokeRole(role, grantee) {
    return `REVOKE ${quoteString(role)} FROM ${grantee}`;
  },
  revokeAdminOption(role, grantee) {
    return [`REVOKE ADMIN OPTION FOR ${quoteString(role)} FROM ${grantee}`];
  },
  tableRevokeDropsColumns: true,
  asciiRoutineGrants: true,
  setDefaultRoles(grantee, roles) {
    // MariaDB activates exactly one default role; validation refuses more than one role per user.
    return [`SET DEFAULT ROLE ${roles[0] === undefined ? 'NONE' : quoteString(roles[0])} FOR ${grantee}`];
  },
};

/**
 * MariaDB 11.3 and later: SHOW CREATE ROUTINE exists ("from MariaDB 11.3.0"); on 10.11 GRANT of it
 * is a syntax error, so an older server (or an undeclared version) never gets it.
 */
export const mariadb113: Dialect = {
  ...mariadb,
  // The one newer privilege (SHOW CREATE ROUTINE) is database-level.
  privileges: {
    ...mariadb.privileges,
    database: [...mariadb.privileges.database, ...Object.keys(mariadb.newerPrivileges ?? {})],
  },
  newerPrivileges: {},
};
