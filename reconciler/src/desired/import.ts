/** Existing accounts of a server → YAML declarations, so a team can start from what it has. Pure. */
import { stringify } from 'yaml';
import { objectKey } from '../model/grants.js';
import type { ActualState, ClusterSpec, Grant } from '../model/types.js';
import { isProtected } from '../model/protected.js';

function quotePart(name: string): string {
  return /^[A-Za-z0-9_$]+$/.test(name) ? name : '`' + name.replace(/`/g, '``') + '`';
}

/** YAML grant entries, one per object. */
function grantEntries(grants: readonly Grant[]): Record<string, unknown>[] {
  const groups = new Map<string, Grant[]>();
  for (const g of grants) groups.set(objectKey(g), [...(groups.get(objectKey(g)) ?? []), g]);
  return [...groups.values()].map((group) => {
    const g = group[0]!;
    const privileges = group.map((x) => x.privilege).filter((p) => p !== 'GRANT OPTION');
    const withGrantOption = privileges.length < group.length ? { withGrantOption: true } : {};
    const on =
      g.level === 'global' ? '*.*'
      : g.level === 'database' ? `${quotePart(g.pattern ?? g.database)}.*`
      : g.level === 'routine' ? `${g.routineType} ${quotePart(g.database)}.${quotePart(g.routine)}`
      : `${quotePart(g.database)}.${quotePart(g.table)}`;
    return {
      on,
      ...(g.level === 'column' ? { columns: [g.column] } : {}),
      privileges: privileges.length > 0 ? privileges : ['USAGE'],
      ...withGrantOption,
    };
  });
}

/** The YAML of a file declaring every unprotected account on the server, each marked adopt: true. */
export function importYaml(cluster: ClusterSpec, actual: ActualState): string {
  const accounts = actual.accounts.filter((a) => !isProtected(a, { adminUsers: actual.adminUsers, listed: cluster.protectedAccounts }));
  const roles = Object.fromEntries(
    accounts
      .filter((a) => a.kind === 'role')
      .map((r) => [r.user, { grants: grantEntries(r.grants), ...(r.roles.length ? { roles: r.roles } : {}), adopt: true }]),
  );
  const users = accounts
    .filter((a) => a.kind === 'user')
    .map((u) => ({
      name: u.user,
      host: u.host,
      cluster: cluster.name,
      auth: u.auth === 'iam' ? 'iam' : 'password',
      grants: grantEntries(u.grants.filter((g) => g.level !== 'global' || g.privilege !== 'USAGE')),
      ...(u.roles.length ? { roles: u.roles } : {}),
      adopt: true,
    }));
  const databases = [...new Set(accounts.flatMap((a) => a.grants.flatMap((g) => (g.level === 'global' ? [] : [g.database]))))].sort();
  const doc = {
    account: cluster.account,
    alias: cluster.alias,
    clusters: [
      {
        name: cluster.name, region: cluster.region, engine: cluster.engine, endpoint: cluster.endpoint, port: cluster.port,
        masterSecretArn: cluster.masterSecretArn, databases: [...new Set([...cluster.databases, ...databases])],
      },
    ],
    ...(Object.keys(roles).length ? { roles } : {}),
    users,
  };
  return `# Imported by dbusers from ${cluster.alias}/${cluster.name} (${actual.version}).\n# Each account is marked adopt: true: the first apply takes it over and resets its password into a secret.\n${stringify(doc)}`;
}
