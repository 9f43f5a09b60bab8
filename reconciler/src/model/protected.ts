/** Accounts dbusers never touches, whatever the YAML, the registry or an event says. */
import type { AccountId } from './types.js';

/** RDS, Aurora, MySQL and MariaDB built-ins (reference/mysql-mariadb.md §5.2), and `root`: on every host. */
const BUILT_IN = new Set([
  'root',
  'rdsadmin',
  'rdsrepladmin',
  'rdsproxyadmin',
  'mysql.sys',
  'mysql.session',
  'mysql.infoschema',
  'mariadb.sys',
  'rds_superuser_role',
  'PUBLIC',
]);

/** A built-in name: reserved on every server, any host. Aurora's roles are AWS_*, in any case. */
export function isBuiltInProtected(user: string): boolean {
  // Character codes, not a regular expression: planning asks this of every account.
  return (
    BUILT_IN.has(user) ||
    user === '' ||
    ((user.charCodeAt(0) | 32) === 97 &&
      (user.charCodeAt(1) | 32) === 119 &&
      (user.charCodeAt(2) | 32) === 115 &&
      user.charCodeAt(3) === 95)
  );
}

/** What protects accounts on one server besides the built-ins. */
export interface ProtectionRules {
  /** Users the tool connects as (the admin, the master secret's user): protected on every host. */
  adminUsers: readonly string[];
  /** The YAML's `protected` list: `user` (any host) or `user@host`. */
  listed: readonly string[];
}

/** Protected: a built-in, an admin user on any host, or one the YAML lists. */
export function isProtected(account: AccountId, rules: ProtectionRules): boolean {
  if (isBuiltInProtected(account.user) || rules.adminUsers.includes(account.user)) return true;
  // A loop, not .some(): planning asks this of every account, and a closure each time adds up.
  for (const entry of rules.listed) {
    const at = entry.lastIndexOf('@');
    const matches =
      at < 0
        ? entry === account.user
        : entry.slice(0, at) === account.user && entry.slice(at + 1) === account.host;
    if (matches) return true;
  }
  return false;
}
