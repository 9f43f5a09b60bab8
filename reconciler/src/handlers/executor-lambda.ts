/**
 * The executor Lambda's entry point: the handler of executor.ts on AWS adapters. Clients are made
 * once per cold start; the clusters come from the deployment's configuration (DBUSERS_CLUSTERS).
 * The admin connection uses an IAM token when DBUSERS_ADMIN_IAM_USER is set (no master password in
 * this function at all), else the master secret; both over TLS verified against the RDS CAs. Each
 * action is logged as structured JSON (Powertools Logger) and counted as EMF metrics (Powertools
 * Metrics): actions by outcome, batch duration.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { RETRY_CONFIG } from '../adapters/aws/clients.js';
import { SecretsManagerStore } from '../adapters/aws/secrets-manager.js';
import { connect, type ConnectionSpec, type Database } from '../adapters/mysql/database.js';
import { iamAuthToken, rdsTls } from '../adapters/mysql/rds.js';
import { loadExecutorConfig } from '../execute/config.js';
import { packInspect } from '../adapters/aws/inspect-payload.js';
import { type ActualState, type ClusterSpec, displayAccount } from '../model/types.js';
import type { SecretStore } from '../ports/index.js';
import {
  makeExecutorHandler,
  type AdminSession,
  type ExecutorEvent,
  type ExecutorHandlerDeps,
} from './executor.js';
import { observed } from './observed.js';

/** A TLS connection that trusts only the Amazon RDS certificate authorities. */
export function connectRds(spec: ConnectionSpec): Promise<Database> {
  return connect({ ...spec, ssl: rdsTls() });
}

/** What the AWS wiring may be given instead of its defaults (tests). */
export interface AwsExecutorSettings {
  env?: Record<string, string | undefined>;
  secretsClient?: SecretsManagerClient;
  /** Open a connection; the default verifies TLS against the RDS CA bundle. */
  connect?: (spec: ConnectionSpec) => Promise<Database>;
  logger?: Logger;
  metrics?: Metrics;
}

/** The handler's adapters on AWS. */
export function awsExecutorDeps(settings: AwsExecutorSettings = {}): ExecutorHandlerDeps {
  const env = settings.env ?? process.env;
  const store = new SecretsManagerStore({
    client: settings.secretsClient ?? new SecretsManagerClient(RETRY_CONFIG),
    rotationLambdaArn: env.ROTATION_LAMBDA_ARN || undefined,
    rotationDays: env.ROTATION_DAYS ? Number(env.ROTATION_DAYS) : undefined,
  });
  const open = settings.connect ?? connectRds;
  let clusters: ClusterSpec[] | undefined;

  async function openAdmin(cluster: ClusterSpec, secrets: SecretStore): Promise<AdminSession> {
    const iamUser = env.DBUSERS_ADMIN_IAM_USER;
    let spec: ConnectionSpec;
    if (iamUser) {
      const token = await iamAuthToken({
        hostname: cluster.endpoint,
        port: cluster.port,
        username: iamUser,
        region: cluster.region,
      });
      spec = { host: cluster.endpoint, port: cluster.port, user: iamUser, password: token };
    } else {
      const master = await secrets.getValue(cluster.masterSecretArn, 'AWSCURRENT');
      if (!master) throw new Error(`master secret ${cluster.masterSecretArn} has no current value`);
      // The endpoint is the configuration's, never the secret's: a secret cannot send the executor elsewhere.
      spec = { host: cluster.endpoint, port: cluster.port, user: master.username, password: master.password };
    }
    return {
      db: await open(spec),
      connectAs: (user, password) => open({ host: spec.host, port: spec.port, user, password }),
      adminUsers: [spec.user],
    };
  }

  const { logger, metrics } = settings;
  return {
    clusters: () => (clusters ??= loadExecutorConfig(env)),
    secretsFor: () => store,
    openAdmin,
    seedCluster: env.DBUSERS_CLUSTER || undefined,
    onAction(cluster, r) {
      const fields = {
        cluster: cluster.name,
        account: displayAccount(r),
        kind: r.kind,
        outcome: r.status,
        durationMs: r.durationMs,
      };
      if (r.status === 'ok') logger?.info('action', fields);
      else logger?.warn('action', { ...fields, detail: r.message });
      metrics?.addMetric(
        `Actions${r.status === 'ok' ? 'Succeeded' : r.status === 'not run' ? 'NotRun' : r.status === 'refused' ? 'Refused' : 'Failed'}`,
        MetricUnit.Count,
        1,
      );
    },
    onBatch(cluster, result, durationMs) {
      logger?.info('batch', {
        cluster: cluster.name,
        ok: result.ok,
        actions: result.results.length,
        replayed: result.replayed === true,
        durationMs,
      });
      metrics?.addMetric('BatchDuration', MetricUnit.Milliseconds, durationMs);
    },
  };
}

/** The handler with logs and metrics: metrics are flushed at the end of every invocation, whatever happened. */
export function makeLambdaHandler(settings: AwsExecutorSettings = {}) {
  const logger = settings.logger ?? new Logger({ serviceName: 'dbusers-executor' });
  const metrics = settings.metrics ?? new Metrics({ namespace: 'dbusers', serviceName: 'dbusers-executor' });
  const inner = makeExecutorHandler(awsExecutorDeps({ ...settings, logger, metrics }));
  return (event: ExecutorEvent) =>
    observed({ logger, metrics }, async () => {
      const result = await inner(event);
      // An inspect answer may be large (Lambda returns at most 6 MB): it travels gzipped then.
      return 'action' in event && event.action === 'inspect' ? packInspect(result as ActualState) : result;
    });
}

/** The Lambda entry point. */
export const handler = makeLambdaHandler();
