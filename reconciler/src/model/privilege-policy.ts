/**
 * The privilege policy: grants a reviewer would not accept by default. The loader reports them as
 * diagnostics and the executor refuses them again, whatever payload arrives; an account file lets a
 * named exception through (`privilegeExceptions:`), and the plan shows it as such.
 *
 *   grant                                           | refused because
 *   ------------------------------------------------+-----------------------------------------------
 *   on *.*: anything but reading (SELECT, SHOW ...) | administrative, or writes the grant tables in mysql.*
 *   on mysql, sys, performance_schema,              | system schemas, and dbusers' own registry
 *     information_schema, _dbusers (or a pattern    |
 *     that matches one of them)                     |
 *   what the RDS master does not hold               | the server refuses it half-way through an apply
 */
import { describeTarget, objectKey } from './grants.js';
import type { AccountId, Engine, Grant, GrantTarget } from './types.js';

/** Schemas no declared grant may touch. */
export const SYSTEM_SCHEMAS = [
  'mysql',
  'sys',
  'performance_schema',
  'information_schema',
  '_dbusers',
] as const;

const SYSTEM_SCHEMA_SET = new Set<string>(SYSTEM_SCHEMAS);

/** The system schema a grant touches: the schema itself (case-insensitive), or one its LIKE pattern matches. */
function touched(grant: Exclude<Grant, { level: 'global' }>): string | undefined {
  if (grant.level === 'database' && grant.pattern !== undefined)
    return SYSTEM_SCHEMAS.find((s) => likeMatches(grant.pattern!, s));
  const name = grant.database.toLowerCase();
  return SYSTEM_SCHEMA_SET.has(name) ? name : undefined;
}

/** Global privileges that only read: allowed on `*.*`. Every other global privilege is refused. */
const GLOBAL_READ = new Set([
  'SELECT',
  'SHOW DATABASES',
  'SHOW VIEW',
  'EXECUTE',
  'LOCK TABLES',
  'CREATE TEMPORARY TABLES',
  'REFERENCES',
]);

/** The administrative privileges MariaDB 10.5+ split out of SUPER, in the order of their access bits. */
export const MARIADB_ADMIN_PRIVILEGES = [
  'SET USER',
  'FEDERATED ADMIN',
  'CONNECTION ADMIN',
  'READ_ONLY ADMIN',
  'REPLICATION SLAVE ADMIN',
  'REPLICATION MASTER ADMIN',
  'BINLOG ADMIN',
  'BINLOG REPLAY',
  'SLAVE MONITOR',
] as const;

/**
 * What the RDS / Aurora master user does not hold, so cannot grant (reference/mysql-mariadb.md §5.1,
 * §5.3). MySQL 8 dynamic privileges are refused as administrative already.
 */
const RDS_MASTER_LACKS: Record<'mariadb' | 'mysql', Set<string>> = {
  mariadb: new Set([
    'SUPER',
    'FILE',
    'SHUTDOWN',
    'DELETE HISTORY',
    'CREATE TABLESPACE',
    ...MARIADB_ADMIN_PRIVILEGES,
  ]),
  mysql: new Set(['SUPER', 'FILE', 'SHUTDOWN', 'CREATE TABLESPACE']),
};

/** An exception an account file grants explicitly, with the reason a reviewer accepted. */
export interface PrivilegeException {
  /** `user` (any host) or exact user and host. */
  user: string;
  host?: string;
  target: GrantTarget;
  privileges: string[];
  reason: string;
}

/** Why the policy refuses a grant, or undefined when it allows it. */
export function policyViolation(grant: Grant, engine: Engine): string | undefined {
  const lacks = RDS_MASTER_LACKS[engine === 'mariadb' ? 'mariadb' : 'mysql'];
  if (lacks.has(grant.privilege)) return 'the RDS master user does not hold it, so it cannot grant it';
  if (grant.level === 'global') {
    if (GLOBAL_READ.has(grant.privilege)) return undefined;
    return 'on *.* it is administrative, or writes the grant tables in mysql.*';
  }
  const schema = touched(grant);
  if (schema)
    return `${schema} is a system schema${schema === '_dbusers' ? " (dbusers' ownership registry)" : ''}; no grant may touch it`;
  return undefined;
}

/** SQL LIKE with `\` as the escape character, case-insensitive as schema names compare on Linux for these. */
export function likeMatches(pattern: string, value: string): boolean {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) re += escapeRegExp(pattern[++i]!);
    else if (c === '%') re += '.*';
    else if (c === '_') re += '.';
    else re += escapeRegExp(c);
  }
  return new RegExp(`^${re}$`, 'is').test(value);
}

function escapeRegExp(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The exception that allows this grant to this account, if any. */
export function exceptionFor(
  account: AccountId,
  grant: Grant,
  exceptions: readonly PrivilegeException[],
): PrivilegeException | undefined {
  const object = objectKey(grant);
  return exceptions.find(
    (e) =>
      e.user === account.user &&
      (e.host === undefined || e.host === account.host) &&
      e.privileges.includes(grant.privilege) &&
      objectKey({ ...e.target, privilege: '' } as Grant) === object,
  );
}

/** Grants of an account the policy refuses and no exception allows, each with its reason. */
export function refusedGrants(
  account: AccountId,
  grants: readonly Grant[],
  engine: Engine,
  exceptions: readonly PrivilegeException[],
): string[] {
  const out: string[] = [];
  for (const g of grants) {
    const why = policyViolation(g, engine);
    if (why && !exceptionFor(account, g, exceptions))
      out.push(`${g.privilege} on ${describeTarget(g)}: ${why}`);
  }
  return out;
}
