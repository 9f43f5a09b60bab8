/**
 * The executor's configuration: the clusters its deployment serves, with their endpoint, port and
 * master secret. An event names a cluster, never where it is: the target an event carries must agree
 * with this configuration, and everything the executor connects to or honours comes from here.
 */
import { readFileSync } from 'node:fs';
import type { PrivilegeException } from '../model/privilege-policy.js';
import type { ClusterSpec } from '../model/types.js';

/** Raised when the configuration is missing or malformed: the executor serves nothing then. */
export class ExecutorConfigError extends Error {
  override name = 'ExecutorConfigError';
}

/** Raised when an event names a cluster this executor does not serve, or disagrees with it. */
export class UnknownTargetError extends Error {
  override name = 'UnknownTargetError';
}

/**
 * The clusters from `DBUSERS_CLUSTERS` (a JSON array of cluster specs, as `dbusers` reads them from
 * users/) or the file `DBUSERS_CLUSTERS_FILE` names (for a configuration over Lambda's 4 KB of
 * environment).
 */
export function loadExecutorConfig(env: Record<string, string | undefined>): ClusterSpec[] {
  const text =
    env.DBUSERS_CLUSTERS ??
    (env.DBUSERS_CLUSTERS_FILE ? readFileSync(env.DBUSERS_CLUSTERS_FILE, 'utf8') : undefined);
  if (!text)
    throw new ExecutorConfigError(
      'the executor serves no cluster: set DBUSERS_CLUSTERS (or DBUSERS_CLUSTERS_FILE) to the clusters of its deployment',
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new ExecutorConfigError(`DBUSERS_CLUSTERS is not JSON: ${(cause as Error).message}`, { cause });
  }
  if (!Array.isArray(parsed))
    throw new ExecutorConfigError('DBUSERS_CLUSTERS must be a JSON array of clusters');
  return parsed.map((c: Partial<ClusterSpec>, i) => {
    for (const field of [
      'name',
      'account',
      'region',
      'engine',
      'endpoint',
      'port',
      'masterSecretArn',
    ] as const) {
      if (c[field] === undefined || c[field] === '')
        throw new ExecutorConfigError(`DBUSERS_CLUSTERS[${i}] has no ${field}`);
    }
    // The guard reads these on every action: a malformed one must stop the executor here, not half-way.
    if (c.protectedAccounts !== undefined && !isList(c.protectedAccounts, (a) => typeof a === 'string'))
      throw new ExecutorConfigError(`DBUSERS_CLUSTERS[${i}].protectedAccounts must be a list of names`);
    if (c.privilegeExceptions !== undefined && !isList(c.privilegeExceptions, isException))
      throw new ExecutorConfigError(
        `DBUSERS_CLUSTERS[${i}].privilegeExceptions must be a list of { user, host?, target: { level, ... }, privileges, reason }, as dbusers writes them`,
      );
    return {
      alias: '',
      databases: [],
      protectedAccounts: [],
      remediateDrift: false,
      privilegeExceptions: [],
      ...c,
    } as ClusterSpec;
  });
}

const isList = (v: unknown, item: (x: unknown) => boolean) => Array.isArray(v) && v.every(item);

const LEVELS = ['global', 'database', 'table', 'column', 'routine'];

/** A privilege exception as the loader makes it (model/privilege-policy.ts). */
function isException(x: unknown): boolean {
  const e = x as Partial<PrivilegeException> | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.user === 'string' &&
    (e.host === undefined || typeof e.host === 'string') &&
    typeof e.target === 'object' &&
    e.target !== null &&
    LEVELS.includes(e.target.level) &&
    isList(e.privileges, (p) => typeof p === 'string') &&
    typeof e.reason === 'string'
  );
}

/** Fields where an event's target must agree with the configuration. */
const MUST_AGREE = ['account', 'region', 'engine', 'endpoint', 'port', 'masterSecretArn'] as const;

/**
 * The configured cluster an event's target names, with the event's extra protected accounts (more
 * protection is always accepted); refused when the event disagrees on where or what it is.
 */
export function resolveTarget(
  config: readonly ClusterSpec[],
  target: Pick<ClusterSpec, 'name'> & Partial<ClusterSpec>,
): ClusterSpec {
  const cluster = config.find((c) => c.name === target.name);
  if (!cluster)
    throw new UnknownTargetError(
      `this executor does not serve cluster ${JSON.stringify(target.name)}; it serves ${config.map((c) => c.name).join(', ')}`,
    );
  const differs = MUST_AGREE.filter((f) => target[f] !== undefined && target[f] !== cluster[f]);
  if (differs.length > 0) {
    const what = differs
      .map((f) => `${f} ${JSON.stringify(target[f])} (configured: ${JSON.stringify(cluster[f])})`)
      .join(', ');
    throw new UnknownTargetError(
      `the event's cluster ${cluster.name} disagrees with this executor's configuration: ${what}`,
    );
  }
  return {
    ...cluster,
    protectedAccounts: [...new Set([...cluster.protectedAccounts, ...(target.protectedAccounts ?? [])])],
  };
}

/** The configured cluster whose master secret the seed's `rds_secret_name` names (by ARN, or by name). */
export function clusterOfMasterSecret(
  config: readonly ClusterSpec[],
  secret: string,
  only?: string,
): ClusterSpec {
  const named = (c: ClusterSpec) =>
    c.masterSecretArn === secret ||
    c.masterSecretArn
      .replace(/^arn:[^:]+:secretsmanager:[^:]+:[0-9]+:secret:/, '')
      .replace(/-[A-Za-z0-9]{6}$/, '') === secret ||
    c.masterSecretArn.endsWith(`:secret:${secret}`);
  const cluster = config.find((c) => (only === undefined || c.name === only) && named(c));
  if (!cluster) {
    throw new UnknownTargetError(
      `no cluster of this executor${only ? ` named ${only}` : ''} has the master secret ${JSON.stringify(secret)}; configured: ${config.map((c) => `${c.name} (${c.masterSecretArn})`).join(', ')}`,
    );
  }
  return cluster;
}
