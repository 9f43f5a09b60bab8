/**
 * Every difference between MySQL 8 / Aurora MySQL 3, MySQL 5.7 / Aurora MySQL 2 and MariaDB 10.4+
 * lives behind the Dialect interface: bulk-read queries, roles and default roles, the IAM clause,
 * privilege names per level, name limits. See ../shared/reference/mysql-mariadb.md.
 */
import type { Engine } from '../model/types.js';
import type { Dialect } from './common.js';
import { mariadb, mariadb113 } from './mariadb.js';
import { mysql57, mysql8 } from './mysql.js';

export { readAccounts } from './common.js';
export type { Dialect, DialectName, InspectQuery, QueryResults } from './common.js';

/** Pick the dialect from `SELECT VERSION()`. */
export function dialectForVersion(version: string): Dialect {
  if (/mariadb/i.test(version)) return mariadbFor(version);
  if (/^5\./.test(version)) return mysql57;
  return mysql8;
}

/** The dialect a declared engine implies, before any server is reached. */
export function dialectForEngine(engine: Engine, engineVersion?: string): Dialect {
  if (engine === 'mariadb') return mariadbFor(engineVersion);
  if (engineVersion && /^(5\.|2\.)/.test(engineVersion)) return mysql57;
  return mysql8;
}

/** MariaDB 11.3 or later by its version (`11.4.2`, `11.4.2-MariaDB`); an unknown version is taken as older. */
function mariadbFor(version: string | undefined): Dialect {
  const [major = 0, minor = 0] = (/^(\d+)\.(\d+)/.exec(version ?? '') ?? []).slice(1).map(Number);
  return major > 11 || (major === 11 && minor >= 3) ? mariadb113 : mariadb;
}
