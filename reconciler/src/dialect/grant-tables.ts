/** The grant tables MySQL and MariaDB share: `mysql.db`, `tables_priv`, `columns_priv`, `procs_priv`. */
import type { AccountId, Grant } from '../model/types.js';
import { decodeDatabasePattern } from '../sql/escape.js';
import type { InspectQuery, QueryResults } from './common.js';
import { text } from './common.js';
import { privilegesOfRow, privilegesOfSet } from './privileges.js';

/** The bulk queries for object-level grants, one per table whatever the number of accounts. */
export const GRANT_TABLE_QUERIES: InspectQuery[] = [
  { name: 'db', sql: 'SELECT * FROM mysql.db' },
  { name: 'tables', sql: 'SELECT Host, Db, User, Table_name, Table_priv FROM mysql.tables_priv' },
  { name: 'columns', sql: 'SELECT Host, Db, User, Table_name, Column_name, Column_priv FROM mysql.columns_priv' },
  { name: 'procs', sql: 'SELECT Host, Db, User, Routine_name, Routine_type, Proc_priv FROM mysql.procs_priv' },
];

type Owned = AccountId & { grant: Grant };

/** Object-level grants of every account, from the rows of GRANT_TABLE_QUERIES. */
export function readObjectGrants(results: QueryResults): Owned[] {
  const out: Owned[] = [];
  const who = (row: Record<string, unknown>) => ({ user: text(row.User), host: text(row.Host) });
  for (const row of results.db ?? []) {
    const target = { level: 'database' as const, ...decodeDatabasePattern(text(row.Db)) };
    for (const privilege of privilegesOfRow(row)) out.push({ ...who(row), grant: { ...target, privilege } });
  }
  for (const row of results.tables ?? []) {
    const target = { level: 'table' as const, database: text(row.Db), table: text(row.Table_name) };
    for (const privilege of privilegesOfSet(text(row.Table_priv))) out.push({ ...who(row), grant: { ...target, privilege } });
  }
  for (const row of results.columns ?? []) {
    const target = { level: 'column' as const, database: text(row.Db), table: text(row.Table_name), column: text(row.Column_name) };
    for (const privilege of privilegesOfSet(text(row.Column_priv))) out.push({ ...who(row), grant: { ...target, privilege } });
  }
  for (const row of results.procs ?? []) {
    const routineType = text(row.Routine_type) === 'FUNCTION' ? ('FUNCTION' as const) : ('PROCEDURE' as const);
    const target = { level: 'routine' as const, database: text(row.Db), routine: text(row.Routine_name), routineType };
    for (const privilege of privilegesOfSet(text(row.Proc_priv))) out.push({ ...who(row), grant: { ...target, privilege } });
  }
  return out;
}
