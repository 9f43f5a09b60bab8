/**
 * The central account's reconciler Lambda: one entry point for the push, the pull request, the drift
 * schedule and a forwarded RotationFailed (EventBridge rules send each here), on AWS adapters: the CodeCommit
 * repository as the source, the SSM automation in each database account as the dispatcher, the
 * event bus for results. Clients are made once per cold start and can be passed in (tests). Each run
 * is logged as one structured line (flow, status, targets, failures; never a secret) and counted as
 * EMF metrics, flushed at the end of every invocation.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { CodeCommitClient, GetPullRequestCommand } from '@aws-sdk/client-codecommit';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import { SSMClient } from '@aws-sdk/client-ssm';
import { RETRY_CONFIG } from '../adapters/aws/clients.js';
import { CodeCommitComments } from '../adapters/aws/codecommit-comments.js';
import { CodeCommitSource } from '../adapters/aws/codecommit-source.js';
import { EventBridgeSink } from '../adapters/aws/eventbridge-sink.js';
import { SsmDispatcher } from '../adapters/aws/ssm-dispatcher.js';
import type { ActionResult } from '../model/batch.js';
import type { ReviewSource, SourceRepo } from '../ports/index.js';
import { displayAccount, targetName } from '../model/types.js';
import { driftedAccounts, type ReconcileDeps, type ReconcileResult } from '../reconcile.js';
import {
  handleDrift,
  handlePush,
  handleRotationFailed,
  isSchedule,
  parseAutomationEnded,
  parsePush,
  parseRotationFailed,
} from './events.js';
import { type GitHubRequest, givenTree, handleGitHub, parseGitHub } from './github.js';
import { COMMENT_MARKER, type PullRequest, parsePullRequest, planPullRequest } from './pull-request.js';
import { observed } from './observed.js';

/** What the wiring may be given instead of its defaults. */
export interface CentralSettings {
  env?: Record<string, string | undefined>;
  codecommit?: CodeCommitClient;
  ssm?: SSMClient;
  eventbridge?: EventBridgeClient;
  /** Clients in a database account, acting as the execution role (default: assumed from the central account). */
  targetClients?: (account: string, region: string) => { ssm: SSMClient; lambda: LambdaClient };
  logger?: Logger;
  metrics?: Metrics;
}

/** How an invocation ended: what ran (a GitHub pull request: with the comment to post), or why the event was ignored. */
export type CentralOutcome =
  | { ignored: string }
  | { flow: Flow; status: ReconcileResult['status']; comment?: string };

/** Any event EventBridge or the GitHub workflow delivers; each parser checks its own shape. */
export type CentralEvent = { id?: string; [field: string]: unknown };

/** A routed event: its flow and run, or why it is ignored. */
type Routed =
  | { flow: Flow; run: () => Promise<ReconcileResult>; extra?: () => { comment?: string } }
  | { ignored: string };

/** The flows an event can start. */
export type Flow = 'push' | 'pull request' | 'drift' | 'rotation failed' | 'results';

/** Raised when the function's configuration is missing a setting. */
export class CentralConfigError extends Error {
  override name = 'CentralConfigError';
}

/** Build the handler from its settings (DBUSERS_REPOSITORY, DBUSERS_SSM_DOCUMENT, DBUSERS_EVENT_BUS, …). */
export function makeCentralHandler(settings: CentralSettings = {}) {
  const env = settings.env ?? process.env;
  const need = (name: string) => {
    const value = env[name];
    if (!value) throw new CentralConfigError(`${name} is not set: the reconciler Lambda needs it`);
    return value;
  };
  const branch = env.DBUSERS_BRANCH || 'main';
  const codecommit = settings.codecommit ?? new CodeCommitClient(RETRY_CONFIG);
  let runtime: { events: EventBridgeSink; dispatcher: SsmDispatcher } | undefined;
  /** The bus and the SSM dispatcher, made once per cold start. */
  const shared = (revision: string) =>
    (runtime ??= {
      events: new EventBridgeSink(
        need('DBUSERS_EVENT_BUS'),
        settings.eventbridge ?? new EventBridgeClient(RETRY_CONFIG),
      ),
      dispatcher: new SsmDispatcher({
        ssm: settings.ssm ?? new SSMClient(RETRY_CONFIG),
        documentName: need('DBUSERS_SSM_DOCUMENT'),
        lambdaFunctionName: env.DBUSERS_EXECUTOR_FUNCTION || 'dbusers-executor',
        executionRoleName: env.DBUSERS_EXECUTION_ROLE || undefined,
        automationAssumeRole: env.DBUSERS_AUTOMATION_ROLE_ARN || undefined,
        revision,
        targetClients: settings.targetClients,
        results: env.DBUSERS_RESULTS === 'events' ? 'events' : 'poll',
      }),
    });
  /** The adapters of a run: the CodeCommit repository as source unless the event brings its tree. */
  const adapters = (revision: string, source?: SourceRepo): ReconcileDeps => {
    const from = source ?? new CodeCommitSource(need('DBUSERS_REPOSITORY'), codecommit);
    return { ...shared(revision), source: from };
  };
  const readOnly = env.DBUSERS_READ_ONLY === 'true';

  /**
   * A pull request: its merge base from GetPullRequest (CodeCommit has it per target), the plan of the
   * merge result, and the one comment upserted. Nothing is applied.
   */
  async function pullRequest(pr: Exclude<PullRequest, { ignore: string }>): Promise<ReconcileResult> {
    const base = adapters(pr.sourceCommit);
    const { pullRequest: found } = await codecommit.send(
      new GetPullRequestCommand({ pullRequestId: pr.pullRequestId }),
    );
    const mergeBase = found?.pullRequestTargets?.[0]?.mergeBase;
    if (!mergeBase) throw new CentralConfigError(`pull request ${pr.pullRequestId} has no merge base`);
    const source: SourceRepo = {
      readTree: (revision) => base.source.readTree(revision),
      changedFiles: (from, to) => base.source.changedFiles!(from, to),
      mergeBase: async () => mergeBase,
    };
    const { result, comment } = await planPullRequest(pr, { ...base, source });
    await new CodeCommitComments(COMMENT_MARKER, need('DBUSERS_COMMENT_AUTHOR_ARN'), codecommit).upsert(
      pr,
      comment,
    );
    return result;
  }

  /** The plan comment of the pull request a push merged: what its reviewers saw (onDigestMismatch). */
  function reviews(): ReviewSource {
    const comments = new CodeCommitComments(COMMENT_MARKER, need('DBUSERS_COMMENT_AUTHOR_ARN'), codecommit);
    return { reviewOf: (commit) => comments.review(need('DBUSERS_REPOSITORY'), branch, commit) };
  }

  /**
   * The GitHub workflow's request: a pull request is planned (its checkout is the merge result) and
   * its comment returned for the workflow to post; a push applies; a schedule checks drift.
   */
  function github(request: GitHubRequest): Routed {
    // A read-only function (the one the pull-request role may invoke) plans and nothing else.
    if (readOnly && request.action !== 'pull_request')
      return { ignored: `this function only plans pull requests; ${request.action} needs the apply role` };
    const flow: Flow =
      request.action === 'pull_request' ? 'pull request' : request.action === 'push' ? 'push' : 'drift';
    let comment: string | undefined;
    const run = async () => {
      const done = await handleGitHub(request, adapters(request.commit, givenTree(request)));
      comment = done.comment;
      return done.result;
    };
    return { flow, run, extra: () => (comment === undefined ? {} : { comment }) };
  }

  /**
   * An automation of dbusers' document ended: collect its per-action results (the batch is read
   * back from the execution) and publish them, as the run that started it did not wait.
   */
  async function collect(executionId: string): Promise<ReconcileResult> {
    const { events, dispatcher } = shared(executionId);
    const batch = await dispatcher.collect(executionId);
    if (!batch) return { ...NOTHING, status: 'in sync' };
    const ok = batch.results.every((r) => r.status === 'ok');
    const result = { cluster: batch.target.name, ok, results: batch.results };
    const cluster = targetName(batch.target);
    await events.publish({
      type: ok ? 'Apply Succeeded' : 'Apply Failed',
      detail: { cluster, execution: executionId, batch: batch.id, results: [result] },
    });
    const failures = ok ? [] : [{ cluster, stage: 'apply' as const, message: failedActions(batch.results) }];
    return { ...NOTHING, status: ok ? 'applied' : 'failed', results: [result], failures };
  }

  /** The flow an event asks for and its run, or why it is ignored. */
  function route(event: CentralEvent): Routed {
    const fromGitHub = parseGitHub(event);
    if (fromGitHub) return github(fromGitHub);
    if (readOnly) return { ignored: 'this function only plans pull requests from the GitHub workflow' };
    const ended = parseAutomationEnded(event, env.DBUSERS_SSM_DOCUMENT ?? '');
    if (ended) return { flow: 'results', run: () => collect(ended) };
    const pr = parsePullRequest(event, branch);
    if (!('ignore' in pr)) return { flow: 'pull request', run: () => pullRequest(pr) };
    const push = parsePush(event, branch);
    if (!('ignore' in push))
      return { flow: 'push', run: () => handlePush(push, { ...adapters(push.commit), reviews: reviews() }) };
    if (isSchedule(event))
      return { flow: 'drift', run: () => handleDrift(adapters(branch), branch, event.id) };
    const failed = parseRotationFailed(event);
    if (failed)
      return { flow: 'rotation failed', run: () => handleRotationFailed(failed, adapters(branch), branch) };
    return { ignored: push.ignore };
  }

  const logger = settings.logger ?? new Logger({ serviceName: 'dbusers-reconciler' });
  const metrics =
    settings.metrics ?? new Metrics({ namespace: 'dbusers', serviceName: 'dbusers-reconciler' });
  /** One log line and the metrics of a finished run. */
  function record(context: { event?: string; flow: Flow }, result: ReconcileResult, durationMs: number) {
    const fields = {
      ...context,
      status: result.status,
      targets: result.plans.length,
      failures: result.failures.map((f) => `${f.cluster} (${f.stage}): ${f.message.slice(0, 500)}`),
      ...(result.mismatches.length ? { digestMismatches: result.mismatches } : {}),
      durationMs,
    };
    if (result.failures.length || result.status === 'failed' || result.status === 'invalid')
      logger.warn('run', fields);
    else logger.info('run', fields);
    metrics.addMetric('Targets', MetricUnit.Count, result.plans.length);
    metrics.addMetric('TargetsFailed', MetricUnit.Count, result.failures.length);
    metrics.addMetric(result.status === 'failed' ? 'RunsFailed' : 'RunsSucceeded', MetricUnit.Count, 1);
    metrics.addMetric('RunDuration', MetricUnit.Milliseconds, durationMs);
    if (context.flow !== 'drift') return;
    // One data point per target read: its drifted accounts (0 when in sync). A target whose check
    // failed sends none, so an alarm on missing data catches a check that stopped working.
    for (const plan of result.plans) {
      const single = metrics.singleMetric();
      single.addDimension('target', targetName(plan));
      single.addMetric('DriftedAccounts', MetricUnit.Count, driftedAccounts(plan));
    }
  }

  return async function handler(event: CentralEvent): Promise<CentralOutcome> {
    const routed = route(event);
    if ('ignored' in routed) {
      logger.info('ignored', { event: event.id, reason: routed.ignored });
      return routed;
    }
    const context = { event: event.id, flow: routed.flow };
    return observed({ logger, metrics, context, failedMetric: 'RunsFailed' }, async () => {
      const started = Date.now();
      const result = await routed.run();
      record(context, result, Date.now() - started);
      return { flow: routed.flow, status: result.status, ...routed.extra?.() };
    });
  };
}

/** The Lambda entry point. */
export const handler = makeCentralHandler();

/** A run that read no files and planned nothing: what a result collection starts from. */
const NOTHING: Omit<ReconcileResult, 'status'> = {
  diagnostics: [],
  files: new Map(),
  plans: [],
  results: [],
  failures: [],
  mismatches: [],
};

/** The actions of a batch that did not complete, for the log line. */
function failedActions(results: readonly ActionResult[]): string {
  return results
    .filter((r) => r.status !== 'ok')
    .map((r) => `${r.kind} ${displayAccount(r)} ${r.status}: ${r.message}`)
    .join('; ');
}
