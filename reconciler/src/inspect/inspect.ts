/** Read a whole server in a constant number of bulk queries: never one query per account. Never writes. */
import type { Database } from '../ports/database.js';
import { AccountIndex } from '../dialect/common.js';
import { dialectForVersion } from '../dialect/index.js';
import type { ActualState, Engine } from '../model/types.js';
import type { SecretStore } from '../ports/index.js';
import { REGISTRY_QUERY, readRegistry } from '../registry/registry.js';

/** Raised when a server cannot be read. */
export class InspectError extends Error {
  override name = 'InspectError';
  constructor(
    message: string,
    readonly cluster: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Version, connected account and IAM plugin, in one query. */
export const SERVER_QUERY = `SELECT VERSION() AS version, CURRENT_USER() AS current_user_name,
  (SELECT COUNT(*) FROM information_schema.PLUGINS
    WHERE PLUGIN_NAME = 'AWSAuthenticationPlugin' AND PLUGIN_STATUS = 'ACTIVE') AS iam_plugin`;

/** Which engine a version string belongs to (Aurora reports a MySQL version). */
function engineOf(version: string, declared: Engine): Engine {
  if (/mariadb/i.test(version)) return 'mariadb';
  return declared === 'aurora-mysql' ? 'aurora-mysql' : 'mysql';
}

/**
 * Inspect one server: accounts, grants, roles, default roles and the ownership registry, plus the
 * metadata (never the values) of the named secrets.
 */
export async function inspect(
  db: Database,
  options: { cluster: string; engine: Engine; secrets?: SecretStore; secretNames?: readonly string[] },
): Promise<ActualState> {
  const stage = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (cause) {
      throw new InspectError(`inspect ${options.cluster}: ${what}: ${(cause as Error).message}`, options.cluster, { cause });
    }
  };
  const [server] = await stage('server version', () => db.query(SERVER_QUERY));
  const version = String(server?.version ?? '');
  const dialect = dialectForVersion(version);
  const index = new AccountIndex();
  for (const q of dialect.inspectQueries) q.read(await stage(`read ${q.name}`, () => db.query(q.sql)), index);
  // An unreadable registry means "not ours", never a crash: nothing is changed or deleted then.
  const owned = readRegistry(await db.query(REGISTRY_QUERY).catch(() => []));
  const current = String(server?.current_user_name ?? '');
  const at = current.lastIndexOf('@');
  const names = [...new Set([...(options.secretNames ?? []), ...owned.flatMap((o) => (o.secretName ? [o.secretName] : []))])];
  const secrets = options.secrets && names.length > 0 ? await stage('describe secrets', () => options.secrets!.describeMany(names)) : {};
  return {
    engine: engineOf(version, options.engine),
    version,
    currentUser: { user: current.slice(0, at), host: current.slice(at + 1) },
    supportsRoles: dialect.supportsRoles,
    roleHost: dialect.roleHost,
    multipleDefaultRoles: dialect.multipleDefaultRoles,
    supportsIamAuth: Number(server?.iam_plugin ?? 0) > 0,
    accounts: index.all(),
    owned,
    secrets,
  };
}
