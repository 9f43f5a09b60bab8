/** The grant tables MySQL and MariaDB share: `mysql.db`, `tables_priv`, `columns_priv`, `procs_priv`. */
import { decodeDatabasePattern } from '../sql/escape.js';
import { text, type AccountIndex, type InspectQuery, type QueryResults } from './common.js';
import { privilegeColumns, privilegesOfSet } from './privileges.js';

/** The bulk queries for object-level grants, one per table whatever the number of accounts. */
export const GRANT_TABLE_QUERIES: InspectQuery[] = [
  { name: 'db', sql: 'SELECT * FROM mysql.db' },
  { name: 'tables', sql: 'SELECT Host, Db, User, Table_name, Table_priv FROM mysql.tables_priv' },
  { name: 'columns', sql: 'SELECT Host, Db, User, Table_name, Column_name, Column_priv FROM mysql.columns_priv' },
  { name: 'procs', sql: 'SELECT Host, Db, User, Routine_name, Routine_type, Proc_priv FROM mysql.procs_priv' },
];

/** Add the object-level grants in the rows of GRANT_TABLE_QUERIES to their accounts. */
export function readObjectGrants(results: QueryResults, index: AccountIndex): void {
  const columns = privilegeColumns(results.db?.[0]);
  for (const row of results.db ?? []) {
    const account = index.get(row.User, row.Host);
    if (!account) continue;
    const { database, pattern } = decodeDatabasePattern(text(row.Db));
    for (const [column, privilege] of columns) {
      if (row[column] !== 'Y') continue;
      account.grants.push(pattern === undefined ? { level: 'database', database, privilege } : { level: 'database', database, pattern, privilege });
    }
  }
  for (const row of results.tables ?? []) {
    const account = index.get(row.User, row.Host);
    if (!account) continue;
    const database = text(row.Db);
    const table = text(row.Table_name);
    for (const privilege of privilegesOfSet(row.Table_priv)) account.grants.push({ level: 'table', database, table, privilege });
  }
  for (const row of results.columns ?? []) {
    const account = index.get(row.User, row.Host);
    if (!account) continue;
    const [database, table, column] = [text(row.Db), text(row.Table_name), text(row.Column_name)];
    for (const privilege of privilegesOfSet(row.Column_priv)) account.grants.push({ level: 'column', database, table, column, privilege });
  }
  for (const row of results.procs ?? []) {
    const account = index.get(row.User, row.Host);
    if (!account) continue;
    const routineType = text(row.Routine_type) === 'FUNCTION' ? 'FUNCTION' : 'PROCEDURE';
    const [database, routine] = [text(row.Db), text(row.Routine_name)];
    for (const privilege of privilegesOfSet(row.Proc_priv)) account.grants.push({ level: 'routine', database, routine, routineType, privilege });
  }
}
