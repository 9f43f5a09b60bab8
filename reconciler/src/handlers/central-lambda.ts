/**
 * The central account's reconciler Lambda: one entry point for the push, the pull request, the drift
 * schedule and a forwarded RotationFailed (EventBridge rules send each here), on AWS adapters: the CodeCommit
 * repository as the source, the SSM automation in each database account as the dispatcher, the
 * event bus for results. Clients are made once per cold start and can be passed in (tests).
 */
import { CodeCommitClient, GetPullRequestCommand } from '@aws-sdk/client-codecommit';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import { SSMClient } from '@aws-sdk/client-ssm';
import { RETRY_CONFIG } from '../adapters/aws/clients.js';
import { CodeCommitComments } from '../adapters/aws/codecommit-comments.js';
import { CodeCommitSource } from '../adapters/aws/codecommit-source.js';
import { EventBridgeSink } from '../adapters/aws/eventbridge-sink.js';
import { SsmDispatcher } from '../adapters/aws/ssm-dispatcher.js';
import type { SourceRepo } from '../ports/index.js';
import type { ReconcileResult } from '../reconcile.js';
import {
  handleDrift,
  handlePush,
  handleRotationFailed,
  isSchedule,
  parsePush,
  parseRotationFailed,
} from './events.js';
import { COMMENT_MARKER, type PullRequest, parsePullRequest, planPullRequest } from './pull-request.js';

/** What the wiring may be given instead of its defaults. */
export interface CentralSettings {
  env?: Record<string, string | undefined>;
  codecommit?: CodeCommitClient;
  ssm?: SSMClient;
  eventbridge?: EventBridgeClient;
  /** Clients in a database account, acting as the execution role (default: assumed from the central account). */
  targetClients?: (account: string, region: string) => { ssm: SSMClient; lambda: LambdaClient };
}

/** How an invocation ended: what ran, or why the event was ignored. */
export type CentralOutcome =
  | { ignored: string }
  | { flow: 'push' | 'pull request' | 'drift' | 'rotation failed'; status: ReconcileResult['status'] };

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
  let deps: Parameters<typeof handlePush>[1] | undefined;
  const adapters = (revision: string) => {
    deps ??= {
      source: new CodeCommitSource(need('DBUSERS_REPOSITORY'), codecommit),
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
      }),
    };
    return deps;
  };

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

  return async function handler(event: { id?: string }): Promise<CentralOutcome> {
    const pr = parsePullRequest(event, branch);
    if (!('ignore' in pr)) return { flow: 'pull request', status: (await pullRequest(pr)).status };
    const push = parsePush(event, branch);
    if (!('ignore' in push))
      return { flow: 'push', status: (await handlePush(push, adapters(push.commit))).status };
    if (isSchedule(event))
      return { flow: 'drift', status: (await handleDrift(adapters(branch), branch, event.id)).status };
    const failed = parseRotationFailed(event);
    if (failed)
      return {
        flow: 'rotation failed',
        status: (await handleRotationFailed(failed, adapters(branch), branch)).status,
      };
    return { ignored: push.ignore };
  };
}

/** The Lambda entry point. */
export const handler = makeCentralHandler();
