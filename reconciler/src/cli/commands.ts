/** The CLI commands that are not a reconcile run: import, event (replay an executor payload), secret put-master. */
import { readFileSync } from 'node:fs';
import {
  LocalDispatcher,
  type LocalEnvironment,
  localExecutorDeps,
} from '../adapters/local/local-dispatcher.js';
import type { FolderSource } from '../adapters/local/folder-source.js';
import { resolve } from 'node:path';
import { GitSource } from '../adapters/local/git-source.js';
import { importYaml } from '../desired/import.js';
import {
  handleDrift,
  handlePush,
  handleRotationFailed,
  isSchedule,
  parsePush,
  parseRotationFailed,
  type PushRequest,
  type RotationFailedRequest,
} from '../handlers/events.js';
import { formatDiagnostic, loadDesired } from '../desired/load.js';
import { ExecutorFailedError, makeExecutorHandler, type ExecutorEvent } from '../handlers/executor.js';
import { type GitHubRequest, givenTree, handleGitHub, parseGitHub } from '../handlers/github.js';
import { parsePullRequest, planPullRequest, type PullRequest } from '../handlers/pull-request.js';
import type { ReconcileResult } from '../reconcile.js';
import type { SourceRepo } from '../ports/index.js';
import { closest } from '../model/names.js';
import { type DesiredTarget, targetName } from '../model/types.js';
import { type IO, warnIgnored } from './report.js';

/** Raised for a command that cannot run as asked; the message says why, in the reader's terms. */
export class CommandError extends Error {
  override name = 'CommandError';
}

/** The valid desired state, or a CommandError listing every problem. */
async function declared(source: FolderSource, io: IO, what: string): Promise<DesiredTarget[]> {
  const files = await source.readTree();
  const { targets, diagnostics } = loadDesired(files, source.folder);
  warnIgnored(source, io);
  if (diagnostics.length === 0) return targets;
  for (const d of diagnostics) io.err(formatDiagnostic(d, files.get(d.file)) + '\n');
  throw new CommandError(`${what}: the YAML folder is invalid; nothing was done`);
}

/** The one declared cluster a command names with --cluster (NAME or alias/NAME), with "did you mean". */
function namedCluster(
  targets: readonly DesiredTarget[],
  name: string | undefined,
  what: string,
): DesiredTarget {
  const names = targets.map((t) => targetName(t.cluster));
  const found = targets.find((t) => t.cluster.name === name || targetName(t.cluster) === name);
  if (found) return found;
  const guess = name ? closest(name, [...names, ...targets.map((t) => t.cluster.name)]) : undefined;
  throw new CommandError(
    `${what}: ${name ? `no cluster ${name}${guess ? `; did you mean ${guess}?` : ''}` : 'name a cluster with --cluster'} (declared: ${names.join(', ')})`,
  );
}

/** `dbusers import`: YAML declaring the existing accounts of one cluster, each with adopt: true. */
export async function runImport(
  source: FolderSource,
  env: LocalEnvironment,
  cluster: string | undefined,
  io: IO,
): Promise<number> {
  const target = namedCluster(await declared(source, io, 'import'), cluster, 'import');
  const actual = await new LocalDispatcher(env).inspect(target.cluster, []);
  io.err(`dbusers: imported from ${actual.server ?? target.cluster.endpoint}\n`);
  io.out(importYaml(target.cluster, actual));
  return 0;
}

/**
 * `dbusers event`: replay an event on this machine with the local adapters. A CodeCommit push or an
 * EventBridge schedule runs the push or drift handler on the git repository `repo` (files read at
 * the event's commits); anything else goes to the executor Lambda's own handler.
 */
export async function runEvent(
  file: string,
  source: FolderSource,
  env: LocalEnvironment,
  options: EventOptions,
  io: IO,
): Promise<number> {
  let event: unknown;
  try {
    event = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new CommandError(`event: ${file}: ${(error as Error).message}`);
  }
  const fromGitHub = parseGitHubOrFail(event);
  if (fromGitHub) return runGitHub(fromGitHub, env, io);
  const pr = parsePullRequest(event, options.branch);
  if (!('ignore' in pr)) return runPullRequest(pr, env, options, io);
  const push = parsePush(event, options.branch);
  const rotationFailed = parseRotationFailed(event);
  if (!('ignore' in push) || isSchedule(event) || rotationFailed)
    return runTrigger(push, rotationFailed, (event as { id?: string }).id, env, options, io);
  const targets = await declared(source, io, "event: the YAML folder is the executor's configuration, and");
  const handler = makeExecutorHandler(
    localExecutorDeps(
      env,
      targets.map((t) => t.cluster),
      options.cluster,
    ),
  );
  try {
    io.out(JSON.stringify(await handler(event as ExecutorEvent), null, 2) + '\n');
    return 0;
  } catch (error) {
    if (!(error instanceof ExecutorFailedError)) throw new CommandError(`event: ${(error as Error).message}`);
    io.out(JSON.stringify(error.result, null, 2) + '\n');
    return 1;
  }
}

/** How `dbusers event` replays. */
export interface EventOptions {
  /** The cluster a seed payload goes to, when several share its master secret. */
  cluster?: string;
  /** The git repository standing in for the event's repository (default: the current folder). */
  repo?: string;
  /** The branch pushes apply (default main). */
  branch?: string;
}

/** A pull request: the plan of its merge result, printed as the comment it would get; nothing is applied. */
async function runPullRequest(
  pr: Exclude<PullRequest, { ignore: string }>,
  env: LocalEnvironment,
  options: EventOptions,
  io: IO,
): Promise<number> {
  const deps = {
    source: new GitSource(resolve(options.repo ?? '.')),
    dispatcher: new LocalDispatcher(env),
    events: { publish: async () => undefined },
  };
  const { result, comment } = await planPullRequest(pr, deps);
  io.out(`${comment}\n`);
  return result.status === 'invalid' || result.status === 'failed' ? 1 : 0;
}

/** A push or a schedule, through its handler on the local git repository; events printed as JSON lines. */
async function runTrigger(
  push: PushRequest,
  rotationFailed: RotationFailedRequest | undefined,
  eventId: string | undefined,
  env: LocalEnvironment,
  options: EventOptions,
  io: IO,
): Promise<number> {
  const deps = localDeps(new GitSource(resolve(options.repo ?? '.')), env, io);
  const result = !('ignore' in push)
    ? await handlePush(push, deps)
    : rotationFailed
      ? await handleRotationFailed(rotationFailed, deps)
      : await handleDrift(deps, undefined, eventId);
  return reportRun(result, io);
}

/** The local adapters of a replay: events printed as JSON lines. */
function localDeps(source: SourceRepo, env: LocalEnvironment, io: IO) {
  return {
    source,
    dispatcher: new LocalDispatcher(env),
    events: {
      publish: async (e: { type: string; detail: Record<string, unknown> }) =>
        io.out(`${JSON.stringify({ 'detail-type': e.type, source: 'dbusers', detail: e.detail })}\n`),
    },
  };
}

/** Diagnostics and failures on stderr; exit 1 when the run failed or the tree was invalid. */
function reportRun(result: ReconcileResult, io: IO): number {
  for (const d of result.diagnostics) io.err(`${formatDiagnostic(d)}\n`);
  for (const f of result.failures) io.err(`dbusers: ${f.cluster}: ${f.stage} failed: ${f.message}\n`);
  return result.status === 'invalid' || result.status === 'failed' ? 1 : 0;
}

function parseGitHubOrFail(event: unknown): GitHubRequest | undefined {
  try {
    return parseGitHub(event);
  } catch (error) {
    throw new CommandError(`event: ${(error as Error).message}`);
  }
}

/** The GitHub workflow's request, on the tree it carries: the comment printed for a pull request. */
async function runGitHub(request: GitHubRequest, env: LocalEnvironment, io: IO): Promise<number> {
  const { result, comment } = await handleGitHub(request, localDeps(givenTree(request), env, io));
  if (comment !== undefined) io.out(`${comment}\n`);
  return reportRun(result, io);
}

/**
 * `dbusers secret put-master`: the master credentials of a cluster into the local secret store,
 * from the RDS JSON on stdin (`{"username": ..., "password": ...}`) or from
 * DBUSERS_MASTER_USERNAME / DBUSERS_MASTER_PASSWORD; the cluster's endpoint is then used, never a fallback.
 */
export async function putMaster(
  source: FolderSource,
  env: LocalEnvironment,
  cluster: string | undefined,
  fromEnv: boolean,
  input: () => Promise<string>,
  io: IO,
): Promise<number> {
  const { cluster: spec } = namedCluster(
    await declared(source, io, 'secret put-master'),
    cluster,
    'secret put-master',
  );
  let value: { username?: unknown; password?: unknown };
  if (fromEnv)
    value = { username: process.env.DBUSERS_MASTER_USERNAME, password: process.env.DBUSERS_MASTER_PASSWORD };
  else {
    try {
      value = JSON.parse(await input()) as typeof value;
    } catch {
      // Not the parser's message: it quotes the text it read, the password with it.
      throw new CommandError(
        `secret put-master: stdin is not the master secret's JSON ({"username": "...", "password": "..."}); what it held is not shown, as it may hold the password`,
      );
    }
  }
  if (typeof value.username !== 'string' || !value.username || typeof value.password !== 'string') {
    throw new CommandError(
      'secret put-master: give a username and a password (JSON on stdin, or DBUSERS_MASTER_USERNAME and DBUSERS_MASTER_PASSWORD with --from-env)',
    );
  }
  const store = env.secretsFor(spec.account);
  await store.ensure({
    name: spec.masterSecretArn,
    description: `master credentials of ${spec.alias}/${spec.name} (local store)`,
    tags: { 'dbusers:cluster': spec.name },
  });
  await store.putPending(spec.masterSecretArn, {
    engine: spec.engine,
    host: spec.endpoint,
    port: spec.port,
    username: value.username,
    password: value.password,
  });
  await store.promotePending(spec.masterSecretArn);
  io.err(
    `dbusers: master secret of ${spec.alias}/${spec.name} stored in ${store.dir}; runs now connect to ${spec.endpoint}:${spec.port}\n`,
  );
  return 0;
}
