/**
 * Existing accounts of a server → YAML declarations, so a team can start from what it has. Pure. The
 * output validates as it stands: grants the privilege policy refuses are listed as exceptions for
 * review, a user on several hosts gets one secret per host, a user whose name Secrets Manager
 * cannot take gets a secret name it can, and an account dbusers cannot manage (control characters
 * or a trailing space in its name or host, locked by hand, a PROXY grant, MySQL partial revokes, a
 * MariaDB routine grant named outside ASCII) is left out, named in a comment, and left alone.
 */
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import { type Dialect, dialectForEngine } from '../dialect/index.js';
import {
  hostProblem,
  identifierProblem,
  nameProblem,
  routineGrantProblem,
  SECRET_NAME,
  secretNamePart,
} from '../model/names.js';
import { describeGrant, describeTarget, grantNames, objectKey } from '../model/grants.js';
import { policyViolation } from '../model/privilege-policy.js';
import {
  visible,
  type ActualAccount,
  type ActualState,
  type ClusterSpec,
  type Grant,
} from '../model/types.js';
import { isProtected } from '../model/protected.js';
import { DEFAULT_SECRET_TEMPLATE, secretNameFor } from './load.js';

function quotePart(name: string): string {
  return /^[A-Za-z0-9_$]+$/.test(name) ? name : '`' + name.replace(/`/g, '``') + '`';
}

/** YAML grant entries, one per object; the column grants of a table as `columnEntries` groups them. */
function grantEntries(grants: readonly Grant[]): Record<string, unknown>[] {
  const entries: Record<string, unknown>[] = [];
  const columns: Grant[][] = [];
  for (const group of byObject(grants)) {
    const g = group[0]!;
    if (g.level === 'column') columns.push(group);
    else {
      const { privileges, grantOption } = heldOn(group);
      entries.push({
        on: onText(g),
        ...patternOf(g),
        privileges,
        ...(grantOption ? { withGrantOption: true } : {}),
      });
    }
  }
  return [...entries, ...columnEntries(columns)];
}

/** Grants in groups, one per object, in the order the objects first appear. */
function byObject(grants: readonly Grant[]): Grant[][] {
  const groups = new Map<string, Grant[]>();
  for (const g of grants) {
    const group = groups.get(objectKey(g));
    if (group) group.push(g);
    else groups.set(objectKey(g), [g]);
  }
  return [...groups.values()];
}

/** The privileges held on one object, and whether with the grant option (alone, it reads USAGE). */
function heldOn(group: readonly Grant[]): { privileges: string[]; grantOption: boolean } {
  const named = group.map((x) => x.privilege).filter((p) => p !== 'GRANT OPTION');
  return { privileges: named.length > 0 ? named : ['USAGE'], grantOption: named.length < group.length };
}

/**
 * Column grants (one group per column) as GRANT and a person write them: the columns holding each
 * privilege of a table, then one entry for the privileges held on the same columns:
 * `{ on: t, columns: [a, b], privileges: [INSERT] }`, not one entry per column.
 */
function columnEntries(groups: readonly Grant[][]): Record<string, unknown>[] {
  const byPrivilege = new Map<
    string,
    { on: string; privilege: string; grantOption: boolean; columns: string[] }
  >();
  for (const group of groups) {
    const g = group[0] as Extract<Grant, { level: 'column' }>;
    const on = onText(g);
    const { privileges, grantOption } = heldOn(group);
    for (const privilege of privileges) {
      const key = JSON.stringify([on, privilege, grantOption]);
      const held = byPrivilege.get(key) ?? { on, privilege, grantOption, columns: [] };
      held.columns.push(g.column);
      byPrivilege.set(key, held);
    }
  }
  const byColumns = new Map<string, { on: string; columns: string[]; privileges: string[] }>();
  for (const { on, privilege, grantOption, columns } of byPrivilege.values()) {
    const key = JSON.stringify([on, columns, grantOption]);
    const entry = byColumns.get(key);
    if (entry) entry.privileges.push(privilege);
    else
      byColumns.set(key, {
        on,
        columns,
        privileges: [privilege],
        ...(grantOption ? { withGrantOption: true } : {}),
      });
  }
  return [...byColumns.values()];
}

/** `pattern: true` where the grant's object is a LIKE pattern of databases. */
function patternOf(g: Grant): { pattern?: true } {
  return g.level === 'database' && g.pattern !== undefined ? { pattern: true } : {};
}

/** A grant's object as `on:` writes it. */
function onText(g: Grant): string {
  return g.level === 'global'
    ? '*.*'
    : g.level === 'database'
      ? `${quotePart(g.pattern ?? g.database)}.*`
      : g.level === 'routine'
        ? `${g.routineType} ${quotePart(g.database)}.${quotePart(g.routine)}`
        : `${quotePart(g.database)}.${quotePart(g.table)}`;
}

/**
 * The roles of an account as `roles:` writes them: `{ name, admin: true }` where held with the admin
 * option, `default: false` where a user holds it but it is not one of its default roles.
 */
function roleEntries(a: ActualAccount): (string | { name: string; admin?: true; default?: false })[] {
  return a.roles.map((name) => {
    const admin = a.adminRoles?.includes(name) ? { admin: true as const } : {};
    const notDefault = a.kind === 'user' && !a.defaultRoles.includes(name) ? { default: false as const } : {};
    return 'admin' in admin || 'default' in notDefault ? { name, ...admin, ...notDefault } : name;
  });
}

/** What the accounts hold that the privilege policy refuses: exceptions to review, one per account and object. */
function exceptionsFor(accounts: readonly ActualAccount[], engine: ClusterSpec['engine']) {
  return accounts.flatMap((a) =>
    byObject(a.grants.filter((g) => policyViolation(g, engine))).map((group) => ({
      account: `${a.user}@${a.host}`,
      on: onText(group[0]!),
      ...patternOf(group[0]!),
      privileges: group.map((g) => g.privilege),
      reason: `imported: held on ${describeTarget(group[0]!)} before dbusers managed it; review before merging`,
    })),
  );
}

/** The YAML of a file declaring every unprotected account on the server, each marked adopt: true. */
export function importYaml(cluster: ClusterSpec, actual: ActualState): string {
  const { kept: accounts, leftOut } = manageable(
    actual.accounts.filter(
      (a) => !isProtected(a, { adminUsers: actual.adminUsers, listed: cluster.protectedAccounts }),
    ),
    cluster,
  );
  const roles = Object.fromEntries(
    accounts
      .filter((a) => a.kind === 'role')
      .map((r) => [
        r.user,
        { grants: grantEntries(r.grants), ...(r.roles.length ? { roles: roleEntries(r) } : {}), adopt: true },
      ]),
  );
  const userAccounts = accounts.filter((a) => a.kind === 'user');
  const onSeveralHosts = new Set(
    userAccounts.filter((u) => userAccounts.some((o) => o !== u && o.user === u.user)).map((u) => u.user),
  );
  const users = userAccounts.map((u) => ({
    name: u.user,
    host: u.host,
    cluster: cluster.name,
    auth: u.auth === 'iam' ? 'iam' : 'password',
    grants: grantEntries(u.grants.filter((g) => g.level !== 'global' || g.privilege !== 'USAGE')),
    ...(u.roles.length ? { roles: roleEntries(u) } : {}),
    ...(u.auth === 'iam' ? {} : importedSecretName(cluster, u, onSeveralHosts.has(u.user))),
    adopt: true,
  }));
  const exceptions = exceptionsFor(accounts, cluster.engine);
  const doc = {
    account: cluster.account,
    alias: cluster.alias,
    ...(exceptions.length ? { privilegeExceptions: exceptions } : {}),
    clusters: [
      {
        name: cluster.name,
        region: cluster.region,
        engine: cluster.engine,
        endpoint: cluster.endpoint,
        port: cluster.port,
        masterSecretArn: cluster.masterSecretArn,
        databases: [...new Set([...cluster.databases, ...databasesNamed(accounts)])],
      },
    ],
    ...(Object.keys(roles).length ? { roles } : {}),
    users,
  };
  const header = [
    `Imported by dbusers from ${cluster.alias}/${cluster.name} (${actual.version}).`,
    'Each account is marked adopt: true: the first apply takes it over and resets its password into a secret.',
    ...(leftOut.length
      ? [
          'Left out (dbusers leaves them alone; plans list them as unmanaged):',
          ...leftOut.map((l) => `  ${l}`),
        ]
      : []),
  ];
  // Names from the server in these lines are shown as text: a newline in one would end the comment.
  return `${header.map((line) => `# ${visible(line)}`).join('\n')}\n${stringify(doc)}`;
}

/** The databases the accounts' grants name (not LIKE patterns): the cluster's `databases:` list. */
function databasesNamed(accounts: readonly ActualAccount[]): string[] {
  const named = accounts.flatMap((a) =>
    a.grants.flatMap((g) =>
      g.level === 'global' || ('pattern' in g && g.pattern !== undefined) ? [] : [g.database],
    ),
  );
  return [...new Set(named)].sort();
}

/**
 * The accounts dbusers can declare, and a line for each it cannot: a name or host the loader refuses
 * (the server took it, but nobody could declare it), what a plan refuses to manage (`undeclarable`),
 * or a role such an account is held through
 * (declaring its holders without it would revoke it).
 */
function manageable(
  accounts: readonly ActualAccount[],
  cluster: ClusterSpec,
): { kept: ActualAccount[]; leftOut: string[] } {
  const dialect = dialectForEngine(cluster.engine, cluster.engineVersion);
  const why = new Map<ActualAccount, string>();
  for (const a of accounts) {
    const problem =
      nameProblem(a.user, dialect.maxUserLength) ??
      (a.kind === 'user' ? hostProblem(a.host, dialect.maxHostLength) : undefined) ??
      undeclarable(a, dialect);
    if (problem) why.set(a, problem);
  }
  // Holders of a left-out role, then theirs, until nothing changes.
  for (let changed = true; changed; ) {
    changed = false;
    const gone = new Set([...why.keys()].filter((a) => a.kind === 'role').map((r) => r.user));
    for (const a of accounts) {
      const held = a.roles.find((r) => gone.has(r));
      if (held !== undefined && !why.has(a)) {
        why.set(a, `holds role ${JSON.stringify(held)}, which is left out`);
        changed = true;
      }
    }
  }
  return {
    kept: accounts.filter((a) => !why.has(a)),
    leftOut: [...why].map(([a, problem]) => `${JSON.stringify(`${a.user}@${a.host}`)}: ${problem}`),
  };
}

/** What an account holds that no YAML declares (plans refuse to manage it, validate refuses it), if anything. */
function undeclarable(a: ActualAccount, dialect: Dialect): string | undefined {
  if (a.locked && a.auth !== 'iam') return 'locked (ACCOUNT LOCK), which no YAML declares';
  const lost = dialect.asciiRoutineGrants
    ? a.grants.find((g) => g.level === 'routine' && routineGrantProblem(a.user, g.database, g.routine))
    : undefined;
  if (lost)
    return `holds ${describeGrant(lost)}, named outside ASCII, which MariaDB stores double-encoded (lost at its next restart), so no YAML declares it`;
  const unnamable = a.grants.flatMap(grantNames).find((n) => identifierProblem(n) !== undefined);
  if (unnamable !== undefined)
    return `holds a grant on ${JSON.stringify(unnamable)}, a name no YAML can declare (control characters, a trailing space, or over 64 characters)`;
  if (a.proxies?.length) return `may act as ${a.proxies.join(', ')} (PROXY), which no YAML declares`;
  if (a.partialRevokes?.length)
    return `holds MySQL partial revokes (${a.partialRevokes.join(', ')}), which no YAML declares`;
  return undefined;
}

/**
 * The `secretName:` a user needs, if any: one secret per host for a user on several (the default
 * template would name one for all), and for a name Secrets Manager refuses (`o'brien`, `ünï`) its
 * characters replaced and a hash of the account added, so that no two users meet.
 */
function importedSecretName(
  cluster: ClusterSpec,
  u: ActualAccount,
  severalHosts: boolean,
): { secretName?: string } {
  const values = {
    account: cluster.account,
    alias: cluster.alias,
    cluster: cluster.name,
    user: u.user,
    host: u.host,
    database: '',
  };
  const named = secretNameFor(
    severalHosts ? 'rds-{cluster}-{user}-{host}-secret' : DEFAULT_SECRET_TEMPLATE,
    values,
  );
  if (SECRET_NAME.test(named)) return severalHosts ? { secretName: named } : {};
  const hash = createHash('sha256').update(`${u.user}\0${u.host}`).digest('hex').slice(0, 8);
  return { secretName: `rds-${cluster.name}-${secretNamePart(u.user)}-${hash}-secret` };
}
