/** Accounts dbusers never touches, whatever the YAML or the registry says. */
import type { AccountId } from './types.js';

/** RDS, Aurora, MySQL and MariaDB built-ins (reference/mysql-mariadb.md §5.2). */
const BUILT_IN = new Set([
  'rdsadmin', 'rdsrepladmin', 'rdsproxyadmin', 'mysql.sys', 'mysql.session', 'mysql.infoschema', 'mariadb.sys',
  'rds_superuser_role', 'PUBLIC',
]);

/** A built-in name: reserved on every server, any host. Aurora's roles are AWS_*. */
export function isBuiltInProtected(user: string): boolean {
  return BUILT_IN.has(user) || /^AWS_/.test(user) || user === '';
}

/**
 * Protected: a built-in, the account the run connects as, or one the YAML lists as `user` (any
 * host) or `user@host`.
 */
export function isProtected(account: AccountId, connectedAs: AccountId, listed: readonly string[]): boolean {
  if (isBuiltInProtected(account.user)) return true;
  if (account.user === connectedAs.user && account.host === connectedAs.host) return true;
  return listed.some((entry) => {
    const at = entry.lastIndexOf('@');
    return at < 0 ? entry === account.user : entry.slice(0, at) === account.user && entry.slice(at + 1) === account.host;
  });
}
