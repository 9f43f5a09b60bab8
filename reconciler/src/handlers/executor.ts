/**
 * The user-management Lambda in each database account: the trust boundary. Accepts the seed's
 * single-action payload exactly as the seed's automation document sends it, a batch (whole, or in
 * pieces as the SSM document carries it), and `inspect`. Every event is validated against the closed
 * schemas/executor-event.schema.json, its target must agree with the clusters this deployment
 * serves, and every action is checked again for the engine before anything connects; the executor
 * then checks each action against the server itself (execute/guard.ts). A failed or refused action
 * fails the invocation, so SSM records a failed step; results never hold a password.
 */
import Ajv2020, { type ErrorObject } from 'ajv/dist/2020.js';
import eventSchema from '../../../schemas/executor-event.schema.json' with { type: 'json' };
import { dialectForEngine, dialectForVersion } from '../dialect/index.js';
import { clusterOfMasterSecret, resolveTarget } from '../execute/config.js';
import { executeBatch, releaseLock, takeLock } from '../execute/executor.js';
import { clusterOfSecret, type RotationEvent, rotationStep } from '../execute/rotation.js';
import { actionProblems } from '../execute/validate.js';
import { inspect } from '../inspect/inspect.js';
import type { ActionResult, BatchResult, ExecutorBatch, ExecutorOptions } from '../model/batch.js';
import { refusedGrants } from '../model/privilege-policy.js';
import { isProtected } from '../model/protected.js';
import {
  displayAccount,
  ownerOf,
  type Action,
  type ActualState,
  type ClusterSpec,
  type ObjectRef,
} from '../model/types.js';
import type { Database, SecretStore } from '../ports/index.js';
import { claimAll, ensureRegistry } from '../registry/registry.js';
import { seedAccount, seedActions, seedSecretName, type SeedEvent } from './seed.js';

export type { SeedEvent } from './seed.js';

const validate = new Ajv2020.default({ allErrors: true, strict: false }).compile(eventSchema as object);

export type ExecutorEvent =
  | SeedEvent
  | RotationEvent
  | ({ action: 'batch' } & ExecutorBatch)
  | { pieces: string[] }
  | { action: 'inspect'; target: ClusterSpec; secretNames?: string[]; objects?: ObjectRef[] };

/** Raised for an event that is malformed or names what this executor may not touch: nothing was done. */
export class ExecutorEventError extends Error {
  override name = 'ExecutorEventError';
}

/** Raised when an action failed or was refused: the invocation fails and SSM records a failed step. */
export class ExecutorFailedError extends Error {
  override name = 'ExecutorFailedError';
  constructor(readonly result: BatchResult) {
    // The message carries the per-action results (never a password) for the dispatcher to read back.
    super(JSON.stringify(result));
  }
}

/** A connection as the cluster's admin, and how to test a login as another account on the same server. */
export interface AdminSession {
  db: Database;
  connectAs(user: string, password: string): Promise<Database>;
  /** Users the executor connects or may connect as: protected on every host. */
  adminUsers: string[];
}

/** What the handler runs on: the Lambda's AWS adapters (executor-aws.ts), or local ones (`dbusers event`). */
export interface ExecutorHandlerDeps {
  /** The clusters this deployment serves (read when first needed). */
  clusters(): ClusterSpec[];
  secretsFor(cluster: ClusterSpec): SecretStore;
  openAdmin(cluster: ClusterSpec, secrets: SecretStore): Promise<AdminSession>;
  options?: Partial<ExecutorOptions>;
  /** A seed payload names no cluster: with several served, this one (else the one whose master secret it names). */
  seedCluster?: string;
  /** Told of each action as it ends, and of each batch (logs and metrics; neither holds a password). */
  onAction?: (cluster: ClusterSpec, result: ActionResult) => void;
  onBatch?: (cluster: ClusterSpec, result: BatchResult, durationMs: number) => void;
}

/** One kind of event the schema admits: how a caller names it, and the errors that are its own. */
interface EventKind {
  title: string;
  required: string[];
  properties?: { action?: { const?: string; enum?: string[] } };
}

const EVENT_KINDS = (eventSchema as { oneOf: EventKind[] }).oneOf;

/**
 * What is wrong with an event, for the kind of event it means to be (named by its `action`, or by
 * the field only that kind has): a batch with one bad grant is told about that grant, not that it
 * lacks a seed payload's `username`.
 */
function schemaMessage(event: unknown, errors: readonly ErrorObject[]): string {
  const fields = event !== null && typeof event === 'object' ? (event as Record<string, unknown>) : {};
  const meant = EVENT_KINDS.findIndex(({ required, properties }) => {
    const action = properties?.action;
    if (action === undefined) return required[0]! in fields;
    return (action.enum ?? [action.const]).includes(fields.action as string);
  });
  if (meant < 0)
    return `not an event this executor knows; expected one of: ${EVENT_KINDS.map((k) => k.title).join('; ')}`;
  const own = errors
    .filter((e) => e.schemaPath.startsWith(`#/oneOf/${meant}/`))
    .map((e) => `${e.instancePath || '(event)'} ${e.message}`);
  return `${EVENT_KINDS[meant]!.title}: ${[...new Set(own)].join('; ')}`;
}

/** Build the handler from its adapters. */
export function makeExecutorHandler(deps: ExecutorHandlerDeps) {
  async function withAdmin<T>(
    cluster: ClusterSpec,
    work: (session: AdminSession, secrets: SecretStore) => Promise<T>,
  ): Promise<T> {
    const secrets = deps.secretsFor(cluster);
    const session = await deps.openAdmin(cluster, secrets);
    try {
      return await work(session, secrets);
    } finally {
      await session.db.close();
    }
  }

  async function runBatch(
    cluster: ClusterSpec,
    actions: Action[],
    id?: string,
    options?: Partial<ExecutorOptions>,
  ): Promise<BatchResult> {
    const started = Date.now();
    const progress = deps.onAction && ((r: ActionResult) => deps.onAction!(cluster, r));
    const result = await withAdmin(cluster, ({ db, connectAs, adminUsers }, secrets) =>
      executeBatch(
        { id, target: cluster, actions, options: { ...deps.options, ...options } },
        { db, secrets, connectAs, adminUsers, progress },
      ),
    );
    deps.onBatch?.(cluster, result, Date.now() - started);
    return result;
  }

  async function handler(event: ExecutorEvent): Promise<BatchResult | ActualState> {
    if (!validate(event))
      throw new ExecutorEventError(`invalid event: ${schemaMessage(event, validate.errors ?? [])}`, {
        cause: validate.errors,
      });
    if ('pieces' in event) return handler(joinPieces(event.pieces));
    if ('Step' in event) return rotate(event);
    let result: BatchResult;
    if (event.action === 'inspect') {
      const cluster = trusted(() => resolveTarget(deps.clusters(), event.target));
      return withAdmin(cluster, ({ db, adminUsers }, secrets) =>
        inspect(db, {
          cluster: cluster.name,
          engine: cluster.engine,
          secrets,
          secretNames: event.secretNames ?? [],
          objects: event.objects,
          adminUsers,
          server: `${cluster.endpoint}:${cluster.port}`,
          iamStandIn: deps.options?.iamFallback === 'lock',
        }),
      );
    } else if (event.action === 'batch') {
      const cluster = trusted(() => resolveTarget(deps.clusters(), event.target));
      checkActions(event.actions, cluster);
      result = await runBatch(cluster, event.actions, event.id, event.options);
    } else {
      result = await runSeedAction(event as SeedEvent);
    }
    if (!result.ok) throw new ExecutorFailedError(result);
    return result;
  }

  /** One action of the seed's document: translated (seed.ts), then run as a batch the guard checks. */
  async function runSeedAction(event: SeedEvent): Promise<BatchResult> {
    const cluster = trusted(() =>
      clusterOfMasterSecret(deps.clusters(), event.rds_secret_name, deps.seedCluster),
    );
    const account = seedAccount(event);
    if (isProtected(account, { adminUsers: [], listed: cluster.protectedAccounts })) {
      throw new ExecutorEventError(`${event.username} is a protected account and is never changed`);
    }
    const actions = await withAdmin(cluster, async ({ db, adminUsers }, secrets) => {
      if (adminUsers.includes(event.username))
        throw new ExecutorEventError(`${event.username} is the admin user and is never changed`);
      const [exists] = await db.query<{ n: number }>(
        'SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?',
        [event.db_name],
      );
      if (Number(exists?.n) === 0) throw new ExecutorEventError(`database ${event.db_name} does not exist`);
      const actual = await inspect(db, {
        cluster: cluster.name,
        engine: cluster.engine,
        secrets,
        adminUsers,
        checkPasswords: false,
      });
      const current = actual.accounts.find((a) => a.user === account.user && a.host === account.host);
      const translated = seedActions(event, current, dialectForEngine(cluster.engine, cluster.engineVersion));
      if (typeof translated === 'string') throw new ExecutorEventError(translated);
      if (event.action !== 'create_user' && current)
        await claimSeedAccount(db, secrets, cluster, actual, event);
      return translated;
    });
    return runBatch(cluster, actions, undefined, { seedSecrets: true });
  }

  /** One step of a Secrets Manager rotation, under the cluster's lock. */
  async function rotate(event: RotationEvent): Promise<BatchResult> {
    const clusters = deps.clusters();
    const found = await findSecret(event.SecretId, clusters);
    const cluster = found && clusterOfSecret(found.meta.tags, clusters);
    if (!found || !cluster)
      throw new ExecutorEventError(
        `secret ${event.SecretId} is not a secret dbusers made for a cluster this executor serves; not rotated`,
      );
    const account = await withAdmin(cluster, async ({ db, connectAs, adminUsers }, secrets) => {
      if (!(await takeLock(db, cluster)))
        throw new ExecutorEventError(
          `another dbusers run holds the lock of ${cluster.name}; Secrets Manager retries the step`,
        );
      try {
        const [server] = await db.query<{ version: string }>('SELECT VERSION() AS version');
        const dialect = dialectForVersion(String(server?.version ?? ''));
        return await rotationStep(event, found.meta.name, {
          db,
          dialect,
          secrets,
          target: cluster,
          connectAs,
          adminUsers,
        });
      } finally {
        await releaseLock(db, cluster);
      }
    });
    const result: ActionResult = {
      kind: 'reset_password',
      ...account,
      status: 'ok',
      message: `rotation ${event.Step} of ${found.meta.name}`,
    };
    deps.onAction?.(cluster, result);
    return { cluster: cluster.name, ok: true, results: [result] };
  }

  /** The secret, in the store of whichever served cluster has it. */
  async function findSecret(id: string, clusters: readonly ClusterSpec[]) {
    // Clusters of one account share a store: ask each store once.
    for (const store of new Set(clusters.map((c) => deps.secretsFor(c)))) {
      const meta = await store.describe(id);
      if (meta) return { meta };
    }
    return undefined;
  }

  return handler;
}

/** Configuration refusals are event errors: nothing was done. */
function trusted<T>(resolve: () => T): T {
  try {
    return resolve();
  } catch (error) {
    throw new ExecutorEventError((error as Error).message, { cause: error });
  }
}

/** The SSM document carries a batch as a list of strings: joined, they must be a batch. */
function joinPieces(pieces: string[]): ExecutorEvent {
  let joined: unknown;
  try {
    joined = JSON.parse(pieces.join(''));
  } catch (cause) {
    throw new ExecutorEventError(`pieces do not join into JSON: ${(cause as Error).message}`, { cause });
  }
  if (typeof joined !== 'object' || joined === null || (joined as { action?: unknown }).action !== 'batch') {
    throw new ExecutorEventError('pieces must join into a batch');
  }
  return joined as ExecutorEvent;
}

/**
 * Before anything connects: each action's values for the engine, and no protected account. The
 * planner never sends either, so a batch that does is refused whole.
 */
function checkActions(actions: readonly Action[], cluster: ClusterSpec): void {
  const dialect = dialectForEngine(cluster.engine, cluster.engineVersion);
  const problems = actions.flatMap((a, i) => {
    const found = actionProblems(a, dialect, false);
    if (isProtected(a, { adminUsers: [], listed: cluster.protectedAccounts }))
      found.push(`${displayAccount(a)} is protected and is never changed`);
    return found.map((p) => `actions[${i}] ${a.kind} ${displayAccount(a)}: ${p}`);
  });
  if (problems.length > 0)
    throw new ExecutorEventError(
      `refused, nothing was done: ${problems.slice(0, 20).join('; ')}${problems.length > 20 ? `; and ${problems.length - 20} more` : ''}`,
    );
}

/**
 * The seed marks the users it made with a `create_by_user_automation` tag on their secret: such a
 * user is taken over (claimed), unless it holds global privileges the policy refuses; any other
 * existing account is refused.
 */
async function claimSeedAccount(
  db: Database,
  secrets: SecretStore,
  cluster: ClusterSpec,
  actual: ActualState,
  event: SeedEvent,
): Promise<void> {
  const account = seedAccount(event);
  if (
    actual.owned.some(
      (o) => o.user === account.user && o.host === account.host && o.owner === ownerOf(cluster),
    )
  )
    return;
  const secretName = seedSecretName(event);
  const meta = await secrets.describe(secretName);
  if (meta?.tags.create_by_user_automation !== 'true') {
    throw new ExecutorEventError(`user ${account.user} was not created by this automation and is left alone`);
  }
  const held =
    actual.accounts
      .find((a) => a.user === account.user && a.host === account.host)
      ?.grants.filter((g) => g.level === 'global') ?? [];
  const refused = refusedGrants(account, held, cluster.engine, cluster.privilegeExceptions);
  if (refused.length > 0)
    throw new ExecutorEventError(`user ${account.user} holds ${refused.join('; ')}; it is left alone`);
  await ensureRegistry(db);
  await claimAll(
    db,
    [{ ...account, kind: 'user', secretName, owner: ownerOf(cluster) }],
    (await secrets.registryKey(true))!,
  );
}
