/** Privilege names as the grant tables store them, per level, and the seed's profiles. */
import { MARIADB_ADMIN_PRIVILEGES } from '../model/privilege-policy.js';
import { NO_NAMES } from '../model/types.js';

/** `mysql.db` / `mysql.user` column → privilege name. Unknown `*_priv` columns are derived. */
const PRIV_COLUMNS: Record<string, string> = {
  Select_priv: 'SELECT',
  Insert_priv: 'INSERT',
  Update_priv: 'UPDATE',
  Delete_priv: 'DELETE',
  Create_priv: 'CREATE',
  Drop_priv: 'DROP',
  Reload_priv: 'RELOAD',
  Shutdown_priv: 'SHUTDOWN',
  Process_priv: 'PROCESS',
  File_priv: 'FILE',
  Grant_priv: 'GRANT OPTION',
  References_priv: 'REFERENCES',
  Index_priv: 'INDEX',
  Alter_priv: 'ALTER',
  Show_db_priv: 'SHOW DATABASES',
  Super_priv: 'SUPER',
  Create_tmp_table_priv: 'CREATE TEMPORARY TABLES',
  Lock_tables_priv: 'LOCK TABLES',
  Execute_priv: 'EXECUTE',
  Repl_slave_priv: 'REPLICATION SLAVE',
  Repl_client_priv: 'REPLICATION CLIENT',
  Create_view_priv: 'CREATE VIEW',
  Show_view_priv: 'SHOW VIEW',
  Create_routine_priv: 'CREATE ROUTINE',
  Alter_routine_priv: 'ALTER ROUTINE',
  Create_user_priv: 'CREATE USER',
  Event_priv: 'EVENT',
  Trigger_priv: 'TRIGGER',
  Create_tablespace_priv: 'CREATE TABLESPACE',
  Create_role_priv: 'CREATE ROLE',
  Drop_role_priv: 'DROP ROLE',
  Delete_history_priv: 'DELETE HISTORY',
  Show_create_routine_priv: 'SHOW CREATE ROUTINE',
};

/** The privilege a `*_priv` column holds. */
export function privilegeOfColumn(column: string): string {
  return (
    PRIV_COLUMNS[column] ??
    column
      .replace(/_priv$/i, '')
      .replace(/_/g, ' ')
      .toUpperCase()
  );
}

/**
 * The privilege each column of a grant table holds, by position (undefined for other columns), read
 * once from its first row: the column set differs by engine and version. Every row of a result has
 * the same columns in the same order, so rows are then read by position.
 */
export function privilegeColumns(row: Record<string, unknown> | undefined): (string | undefined)[] {
  return Object.keys(row ?? {}).map((column) =>
    /_priv$/i.test(column) ? privilegeOfColumn(column) : undefined,
  );
}

/**
 * Push onto `out` what `byPosition` holds for each `Y` column of a grant-table row. By position with
 * for...in: no keyed load by column name, and no array of values per row.
 */
export function pushWhereYes<T>(
  row: Record<string, unknown>,
  byPosition: readonly (T | undefined)[],
  out: T[],
): void {
  let position = 0;
  for (const column in row) {
    const entry = byPosition[position++];
    if (entry !== undefined && row[column] === 'Y') out.push(entry);
  }
}

/** Privileges named by the `Y` columns of one grant-table row. */
export function privilegesOfRow(row: Record<string, unknown>, columns = privilegeColumns(row)): string[] {
  const out: string[] = [];
  pushWhereYes(row, columns, out);
  return out;
}

/** Values of a SET column (`'Select,Insert,Grant'`) as privilege names. */
export function privilegesOfSet(value: unknown): readonly string[] {
  if (typeof value !== 'string' || value === '') return [];
  // A server holds a few distinct SET values, each decoded once (the lists are shared, never changed).
  let names = setValues.get(value);
  if (names === undefined)
    setValues.set(
      value,
      (names = Object.freeze(value.split(',').map((p) => SET_NAMES[p.toLowerCase()] ?? p.toUpperCase()))),
    );
  return names;
}

const setValues = new Map<string, readonly string[]>();

const SET_NAMES: Record<string, string> = {
  grant: 'GRANT OPTION',
  'delete versioning rows': 'DELETE HISTORY',
  'show view': 'SHOW VIEW',
  'create view': 'CREATE VIEW',
  'alter routine': 'ALTER ROUTINE',
};

/** MariaDB `global_priv.Priv.access`: bit n → privilege (10.11, see reference §1.1). */
export const MARIADB_ACCESS_BITS = [
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'CREATE',
  'DROP',
  'RELOAD',
  'SHUTDOWN',
  'PROCESS',
  'FILE',
  'GRANT OPTION',
  'REFERENCES',
  'INDEX',
  'ALTER',
  'SHOW DATABASES',
  'SUPER',
  'CREATE TEMPORARY TABLES',
  'LOCK TABLES',
  'EXECUTE',
  'REPLICATION SLAVE',
  'BINLOG MONITOR',
  'CREATE VIEW',
  'SHOW VIEW',
  'CREATE ROUTINE',
  'ALTER ROUTINE',
  'CREATE USER',
  'EVENT',
  'TRIGGER',
  'CREATE TABLESPACE',
  'DELETE HISTORY',
  ...MARIADB_ADMIN_PRIVILEGES,
] as const;

/** Decode a MariaDB access bitmask (a number or a decimal string up to 2^64-1). */
export function decodeAccessBits(access: unknown): readonly string[] {
  if (access === undefined || access === null || access === 0 || access === '0') return NO_NAMES;
  const binary = BigInt(String(access)).toString(2);
  const out: string[] = [];
  for (let bit = 0; bit < MARIADB_ACCESS_BITS.length && bit < binary.length; bit++) {
    if (binary[binary.length - 1 - bit] === '1') out.push(MARIADB_ACCESS_BITS[bit]!);
  }
  return out;
}

/** MariaDB stores and shows these under another name; compare on the stored one. */
export const PRIVILEGE_ALIASES: Record<string, string> = {
  'REPLICATION CLIENT': 'BINLOG MONITOR',
  'REPLICA MONITOR': 'SLAVE MONITOR',
};

/** Database-level privileges of MySQL 8 / 5.7 (`mysql.db` columns, GRANT OPTION aside). */
export const MYSQL_DATABASE_PRIVILEGES = [
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'CREATE',
  'DROP',
  'REFERENCES',
  'INDEX',
  'ALTER',
  'CREATE TEMPORARY TABLES',
  'LOCK TABLES',
  'EXECUTE',
  'CREATE VIEW',
  'SHOW VIEW',
  'CREATE ROUTINE',
  'ALTER ROUTINE',
  'EVENT',
  'TRIGGER',
];

/** Table-level privileges (`tables_priv.Table_priv`, GRANT OPTION aside). */
export const TABLE_PRIVILEGES = [
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'CREATE',
  'DROP',
  'REFERENCES',
  'INDEX',
  'ALTER',
  'CREATE VIEW',
  'SHOW VIEW',
  'TRIGGER',
];
export const COLUMN_PRIVILEGES = ['SELECT', 'INSERT', 'UPDATE', 'REFERENCES'];
export const ROUTINE_PRIVILEGES = ['EXECUTE', 'ALTER ROUTINE'];

/** Static global privileges shared by MySQL and MariaDB. */
export const COMMON_GLOBAL_PRIVILEGES = [
  ...MYSQL_DATABASE_PRIVILEGES,
  'RELOAD',
  'SHUTDOWN',
  'PROCESS',
  'FILE',
  'SHOW DATABASES',
  'SUPER',
  'REPLICATION SLAVE',
  'REPLICATION CLIENT',
  'CREATE USER',
  'CREATE TABLESPACE',
];

/** Database privileges the RDS master may not hold (DELETE HISTORY on RDS for MariaDB, SHOW CREATE ROUTINE before 11.4). */
const NOT_IN_PROFILES = new Set(['DELETE HISTORY', 'SHOW CREATE ROUTINE']);

/**
 * The seed's profiles as explicit privilege lists: never `ALL PRIVILEGES`, which fails on RDS for
 * MariaDB. `admin` is every database privilege the engine has, less those the RDS master lacks.
 */
export function profilePrivileges(
  profile: 'readonly' | 'readwrite' | 'admin',
  databasePrivileges: readonly string[],
): string[] {
  switch (profile) {
    case 'readonly':
      return ['SELECT'];
    case 'readwrite':
      return ['SELECT', 'INSERT', 'UPDATE', 'DELETE'];
    case 'admin':
      return databasePrivileges.filter((p) => !NOT_IN_PROFILES.has(p));
  }
}
