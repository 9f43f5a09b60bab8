/** The grant tables MySQL and MariaDB share: `mysql.db`, `tables_priv`, `columns_priv`, `procs_priv`. */
import type { Grant } from '../model/types.js';
import { decodeDatabasePattern, quoteIdent } from '../sql/escape.js';
import { text, withRole, type InspectQuery } from './common.js';
import { privilegeOfColumn, privilegesOfSet } from './privileges.js';

/**
 * A grant table whose rows each name one object and hold its privileges in a SET column
 * (`tables_priv`, `columns_priv`, `procs_priv`), the object in `objectColumns`.
 */
function setColumnTable(
  name: string,
  sql: string,
  objectColumns: readonly string[],
  setColumn: string,
  grantOf: (row: Record<string, unknown>, privilege: string) => Grant,
): InspectQuery {
  const compared = [...objectColumns, setColumn];
  return {
    name,
    sql,
    read(rows, index) {
      // Rows come in key order, so the accounts holding the same privileges on one object often
      // follow each other: they share its grants (never changed once read), built once.
      let last: Record<string, unknown> | undefined;
      let grants: readonly Grant[] = [];
      for (const row of rows) {
        const account = index.get(row.User, row.Host);
        if (!account) continue;
        if (last === undefined || !sameCells(last, row, compared)) {
          grants = privilegesOfSet(row[setColumn]).map((privilege) => grantOf(row, privilege));
          last = row;
        }
        for (const g of grants) account.grants.push(g);
      }
    },
  };
}

/** Whether two rows hold the same values in `columns`. */
function sameCells(
  a: Record<string, unknown>,
  b: Record<string, unknown>,
  columns: readonly string[],
): boolean {
  for (const c of columns) if (a[c] !== b[c]) return false;
  return true;
}

/** `mysql.proxies_priv`: whom an account may act as. Never declared, so read to be reported. */
const PROXIES: InspectQuery = {
  name: 'proxies',
  sql: 'SELECT Host, User, Proxied_host, Proxied_user FROM mysql.proxies_priv',
  read(rows, index) {
    for (const row of rows) {
      const account = index.get(row.User, row.Host);
      if (account)
        account.proxies = withRole(
          account.proxies,
          `'${text(row.Proxied_user)}'@'${text(row.Proxied_host)}'`,
        );
    }
  },
};

/**
 * The bulk queries for object-level grants, one per table whatever the number of accounts, given the
 * privilege columns of the server's `mysql.db`.
 */
export function grantTableQueries(dbColumns: readonly string[]): InspectQuery[] {
  return [databaseGrants(dbColumns), ...SET_COLUMN_TABLES];
}

const SET_COLUMN_TABLES: InspectQuery[] = [
  setColumnTable(
    'tables',
    'SELECT Host, Db, User, Table_name, Table_priv FROM mysql.tables_priv',
    ['Db', 'Table_name'],
    'Table_priv',
    (row, privilege) => ({
      level: 'table',
      database: text(row.Db),
      table: text(row.Table_name),
      privilege,
    }),
  ),
  setColumnTable(
    'columns',
    'SELECT Host, Db, User, Table_name, Column_name, Column_priv FROM mysql.columns_priv',
    ['Db', 'Table_name', 'Column_name'],
    'Column_priv',
    (row, privilege) => ({
      level: 'column',
      database: text(row.Db),
      table: text(row.Table_name),
      column: text(row.Column_name),
      privilege,
    }),
  ),
  setColumnTable(
    'procs',
    'SELECT Host, Db, User, Routine_name, Routine_type, Proc_priv FROM mysql.procs_priv',
    ['Db', 'Routine_name', 'Routine_type'],
    'Proc_priv',
    (row, privilege) => ({
      level: 'routine',
      database: text(row.Db),
      routine: text(row.Routine_name),
      routineType: text(row.Routine_type) === 'FUNCTION' ? 'FUNCTION' : 'PROCEDURE',
      privilege,
    }),
  ),
  PROXIES,
];

/**
 * `mysql.db`: one `Y`/`N` column per privilege, read as one text of a character per column
 * (`YNNY…`): the driver decodes one field per row instead of twenty, which for 10,000 rows is half
 * the time the rows cost. The columns differ by engine and version, so they are the server's own
 * (inspect.ts reads them with the server's version). The name is a pattern, decoded once per
 * database. Grants are never changed once read, so the accounts holding `SELECT on db.*` share one object.
 */
function databaseGrants(columns: readonly string[]): InspectQuery {
  // No column seen: the server then refuses the query as it refuses the table (no SELECT on it).
  const flags = columns.length > 0 ? `CONCAT(${columns.map(quoteIdent).join(', ')})` : "''";
  return {
    name: 'db',
    sql: `SELECT Host, Db, User, ${flags} AS privileges FROM mysql.db`,
    read(rows, index) {
      const privileges = columns.map(privilegeOfColumn);
      // Database name → the grant each column stands for, by position.
      const shared = new Map<string, Grant[]>();
      for (const row of rows) {
        const account = index.get(row.User, row.Host);
        if (!account) continue;
        const db = text(row.Db);
        let grants = shared.get(db);
        if (grants === undefined) {
          const { database, pattern } = decodeDatabasePattern(db);
          grants = privileges.map(
            (privilege): Grant =>
              pattern === undefined
                ? { level: 'database', database, privilege }
                : { level: 'database', database, pattern, privilege },
          );
          shared.set(db, grants);
        }
        const held = text(row.privileges);
        if (held.length !== grants.length)
          throw new Error(
            `the privileges of ${account.user}@${account.host} on ${db} read as '${held}', not one Y or N for each of ${columns.length} columns`,
          );
        for (let i = 0; i < grants.length; i++) if (held.charCodeAt(i) === Y) account.grants.push(grants[i]!);
      }
    },
  };
}

const Y = 'Y'.charCodeAt(0);
