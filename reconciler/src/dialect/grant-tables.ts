/** The grant tables MySQL and MariaDB share: `mysql.db`, `tables_priv`, `columns_priv`, `procs_priv`. */
import { decodeDatabasePattern } from '../sql/escape.js';
import { text, type AccountIndex, type InspectQuery } from './common.js';
import { privilegeColumns, privilegesOfSet } from './privileges.js';

/** The bulk queries for object-level grants, one per table whatever the number of accounts. */
export const GRANT_TABLE_QUERIES: InspectQuery[] = [
  { name: 'db', sql: 'SELECT * FROM mysql.db', read: readDatabaseGrants },
  {
    name: 'tables',
    sql: 'SELECT Host, Db, User, Table_name, Table_priv FROM mysql.tables_priv',
    read(rows, index) {
      for (const row of rows) {
        const account = index.get(row.User, row.Host);
        if (!account) continue;
        const [database, table] = [text(row.Db), text(row.Table_name)];
        for (const privilege of privilegesOfSet(row.Table_priv)) account.grants.push({ level: 'table', database, table, privilege });
      }
    },
  },
  {
    name: 'columns',
    sql: 'SELECT Host, Db, User, Table_name, Column_name, Column_priv FROM mysql.columns_priv',
    read(rows, index) {
      for (const row of rows) {
        const account = index.get(row.User, row.Host);
        if (!account) continue;
        const [database, table, column] = [text(row.Db), text(row.Table_name), text(row.Column_name)];
        for (const privilege of privilegesOfSet(row.Column_priv)) account.grants.push({ level: 'column', database, table, column, privilege });
      }
    },
  },
  {
    name: 'procs',
    sql: 'SELECT Host, Db, User, Routine_name, Routine_type, Proc_priv FROM mysql.procs_priv',
    read(rows, index) {
      for (const row of rows) {
        const account = index.get(row.User, row.Host);
        if (!account) continue;
        const routineType = text(row.Routine_type) === 'FUNCTION' ? 'FUNCTION' : 'PROCEDURE';
        const [database, routine] = [text(row.Db), text(row.Routine_name)];
        for (const privilege of privilegesOfSet(row.Proc_priv)) account.grants.push({ level: 'routine', database, routine, routineType, privilege });
      }
    },
  },
];

/** `mysql.db`: one `Y`/`N` column per privilege; the name is a pattern, decoded. */
function readDatabaseGrants(rows: Record<string, unknown>[], index: AccountIndex): void {
  const columns = privilegeColumns(rows[0]);
  for (const row of rows) {
    const account = index.get(row.User, row.Host);
    if (!account) continue;
    const { database, pattern } = decodeDatabasePattern(text(row.Db));
    for (const [column, privilege] of columns) {
      if (row[column] !== 'Y') continue;
      account.grants.push(pattern === undefined ? { level: 'database', database, privilege } : { level: 'database', database, pattern, privilege });
    }
  }
}
