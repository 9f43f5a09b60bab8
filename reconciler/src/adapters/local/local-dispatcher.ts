/**
 * Local mode: the executor runs in-process against each cluster's server. A cluster's server is
 * DBUSERS_DATABASE_URL when set, else its endpoint with the master credentials from the local
 * secret store (`dbusers secret put-master`), else, with neither configured, the embedded MariaDB
 * in the state folder. A configured server that cannot be reached is an error, never a fallback.
 */
import { join, relative } from 'node:path';
import type { ActionResult, BatchResult, ExecutorBatch, ExecutorOptions } from '../../model/batch.js';
import { executeBatch } from '../../execute/executor.js';
import { inspect } from '../../inspect/inspect.js';
import type { ActualState, ClusterSpec, Grant, ObjectRef } from '../../model/types.js';
import type { ExecutorHandlerDeps } from '../../handlers/executor.js';
import type { Dispatcher } from '../../ports/index.js';
import { quoteIdent } from '../../sql/escape.js';
import {
  connect,
  defaultTls,
  parseDatabaseUrl,
  type ConnectionSpec,
  type Database,
} from '../mysql/database.js';
import { startEmbeddedMariadb, type EmbeddedServer } from './embedded-mariadb.js';
import { FileSecretStore } from './file-secret-store.js';

/** Settings of local mode. */
export interface LocalSettings {
  stateDir: string;
  /** Overrides the connection of every cluster. */
  databaseUrl?: string;
  /** Create the declared databases and the tables grants name (always on the embedded server). */
  createMissing?: boolean;
  /** Say what is happening (which server a cluster uses). */
  log: (line: string) => void;
}

interface Resolved {
  spec: ConnectionSpec;
  embedded: boolean;
  /** How outputs name it. */
  server: string;
}

/** Raised when a cluster's configured connection cannot be used: nothing falls back to another server. */
export class ConnectionConfigError extends Error {
  override name = 'ConnectionConfigError';
}

/** Resolves and owns the servers of a local run; close() stops the embedded ones. */
export class LocalEnvironment {
  private readonly resolved = new Map<string, Promise<Resolved>>();
  private readonly servers: EmbeddedServer[] = [];

  constructor(readonly settings: LocalSettings) {}

  /** The secret store of one AWS account: `<state>/secrets/<account>/`. */
  secretsFor(account: string): FileSecretStore {
    return new FileSecretStore(join(this.settings.stateDir, 'secrets', account));
  }

  /** Where a cluster's server is, resolved once per run. */
  connection(cluster: ClusterSpec): Promise<Resolved> {
    const key = `${cluster.account}/${cluster.name}`;
    if (!this.resolved.has(key)) this.resolved.set(key, this.resolve(cluster));
    return this.resolved.get(key)!;
  }

  private async resolve(cluster: ClusterSpec): Promise<Resolved> {
    const { settings } = this;
    if (settings.databaseUrl) {
      const spec = parseDatabaseUrl(settings.databaseUrl);
      return { spec, embedded: false, server: spec.socketPath ?? `${spec.host}:${spec.port}` };
    }
    const store = this.secretsFor(cluster.account);
    if (store.read(cluster.masterSecretArn)) {
      const master = await store.getValue(cluster.masterSecretArn, 'AWSCURRENT');
      if (!master?.username) {
        throw new ConnectionConfigError(
          `cluster ${cluster.name}: the local master secret ${cluster.masterSecretArn} has no current username and password (missing secret); write it with dbusers secret put-master --cluster ${cluster.name}`,
        );
      }
      const spec = {
        host: cluster.endpoint,
        port: cluster.port,
        user: master.username,
        password: master.password,
        ssl: defaultTls(cluster.endpoint),
      };
      return { spec, embedded: false, server: `${cluster.endpoint}:${cluster.port}` };
    }
    const dir = join(settings.stateDir, 'mariadb', `${cluster.alias}-${cluster.name}`);
    settings.log(
      `cluster ${cluster.name}: no connection configured (no DBUSERS_DATABASE_URL, no master secret in the local store); using the embedded MariaDB in ${dir}`,
    );
    const server = await startEmbeddedMariadb(dir);
    this.servers.push(server);
    return {
      spec: parseDatabaseUrl(server.url),
      embedded: true,
      server: `embedded MariaDB in ${relative(process.cwd(), dir) || dir}`,
    };
  }

  /** Stop the embedded servers this run started. */
  async close(): Promise<void> {
    await Promise.all(this.servers.splice(0).map((s) => s.stop()));
  }
}

/** Runs the executor in this process. */
export class LocalDispatcher implements Dispatcher {
  constructor(
    private readonly env: LocalEnvironment,
    private readonly options: Partial<ExecutorOptions> = {},
    private readonly progress?: (result: ActionResult) => void,
  ) {}

  async inspect(
    cluster: ClusterSpec,
    secretNames: readonly string[],
    objects: readonly ObjectRef[] = [],
  ): Promise<ActualState> {
    const { spec, embedded, server } = await this.env.connection(cluster);
    // A test server gets placeholders for what grants name when applied: nothing is missing then.
    const check = embedded || this.env.settings.createMissing ? [] : objects;
    const actual = await this.withDatabase(cluster, (db) =>
      inspect(db, {
        cluster: cluster.name,
        engine: cluster.engine,
        secrets: this.env.secretsFor(cluster.account),
        secretNames,
        objects: check,
        adminUsers: [spec.user],
        server,
        iamStandIn: this.options.iamFallback !== 'fail',
      }),
    );
    if ((actual.engine === 'mariadb') !== (cluster.engine === 'mariadb')) {
      this.env.settings.log(
        `cluster ${cluster.name} declares ${cluster.engine}, but the local server is ${actual.version}: planning for the server's dialect`,
      );
    }
    return actual;
  }

  async dispatch(batch: ExecutorBatch): Promise<BatchResult> {
    const { spec, embedded } = await this.env.connection(batch.target);
    return this.withDatabase(batch.target, async (db) => {
      if (embedded || this.env.settings.createMissing) await createMissingObjects(db, batch);
      return executeBatch(
        { ...batch, options: { iamFallback: 'lock', ...this.options, ...batch.options } },
        {
          db,
          secrets: this.env.secretsFor(batch.target.account),
          connectAs: (user, password) => connect({ ...spec, user, password }),
          adminUsers: [spec.user],
          progress: this.progress,
        },
      );
    });
  }

  private async withDatabase<T>(cluster: ClusterSpec, work: (db: Database) => Promise<T>): Promise<T> {
    const { spec } = await this.env.connection(cluster);
    const db = await connect(spec);
    try {
      return await work(db);
    } finally {
      await db.close();
    }
  }
}

/**
 * A test server has none of the production schema: create the declared databases, and each table,
 * column and routine a grant of the batch names, so grants can be applied end to end.
 */
async function createMissingObjects(db: Database, batch: ExecutorBatch): Promise<void> {
  for (const name of batch.target.databases)
    await db.query(`CREATE DATABASE IF NOT EXISTS ${quoteIdent(name)}`);
  const grants = batch.actions.flatMap((a) => ('grants' in a ? a.grants : [])) as Grant[];
  for (const g of grants) {
    if (g.level === 'global') continue;
    await db.query(`CREATE DATABASE IF NOT EXISTS ${quoteIdent(g.database)}`);
    if (g.level === 'table' || g.level === 'column') {
      await db.query(
        `CREATE TABLE IF NOT EXISTS ${quoteIdent(g.database)}.${quoteIdent(g.table)} (id INT PRIMARY KEY)`,
      );
      if (g.level === 'column') {
        await db.query(
          `ALTER TABLE ${quoteIdent(g.database)}.${quoteIdent(g.table)} ADD COLUMN IF NOT EXISTS ${quoteIdent(g.column)} INT`,
        );
      }
    }
    if (g.level === 'routine') {
      const name = `${quoteIdent(g.database)}.${quoteIdent(g.routine)}`;
      await db.query(
        g.routineType === 'PROCEDURE'
          ? `CREATE PROCEDURE IF NOT EXISTS ${name}() BEGIN END`
          : `CREATE FUNCTION IF NOT EXISTS ${name}() RETURNS INT RETURN 1`,
      );
    }
  }
}

/**
 * The executor handler's adapters in local mode (`dbusers event`): the clusters declared in users/
 * are its configuration, each reached as local mode reaches it, with the local secret store.
 */
export function localExecutorDeps(
  env: LocalEnvironment,
  clusters: ClusterSpec[],
  seedCluster?: string,
): ExecutorHandlerDeps {
  return {
    clusters: () => clusters,
    secretsFor: (cluster) => env.secretsFor(cluster.account),
    seedCluster,
    options: { iamFallback: 'lock' },
    async openAdmin(cluster) {
      const { spec } = await env.connection(cluster);
      return {
        db: await connect(spec),
        connectAs: (user, password) => connect({ ...spec, user, password }),
        adminUsers: [spec.user],
      };
    },
  };
}
