/**
 * The central reconciler Lambda on the documented events, its AWS calls asserted at the SDK boundary:
 * CodeCommit for the files, Lambda (through the target account) for inspection, SSM for changes,
 * EventBridge for results.
 */
import {
  CodeCommitClient,
  GetBlobCommand,
  GetCommentsForPullRequestCommand,
  GetDifferencesCommand,
  GetFolderCommand,
  GetPullRequestCommand,
  ListPullRequestsCommand,
  PostCommentForPullRequestCommand,
} from '@aws-sdk/client-codecommit';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  DescribeAutomationExecutionsCommand,
  GetAutomationExecutionCommand,
  SSMClient,
  StartAutomationExecutionCommand,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { CentralStack, type RepositorySpec } from '../../../infra/src/central-stack.js';
import { tempDir } from '../../support/server.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type CentralSettings, makeCentralHandler } from '../../../reconciler/src/handlers/central-lambda.js';
import { repositoryStateChange, USERS_REPOSITORY } from '../../support/events.js';
import { emptyAuroraServer } from '../../support/fixtures.js';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

const cc = mockClient(CodeCommitClient);
const eb = mockClient(EventBridgeClient);
const ssm = mockClient(SSMClient);
const lambda = mockClient(LambdaClient);
afterEach(() => {
  for (const m of [cc, eb, ssm, lambda]) m.reset();
});

const env = {
  DBUSERS_REPOSITORY: 'users',
  DBUSERS_EVENT_BUS: 'dbusers',
  DBUSERS_SSM_DOCUMENT: 'dbusers-executor',
  DBUSERS_COMMENT_AUTHOR_ARN: 'arn:aws:sts::111122223333:assumed-role/dbusers-reconciler/dbusers-reconciler',
};
/** Logs and metrics kept off the test output; a test that checks them passes its own. */
const quiet = () => {
  const metrics = new Metrics({ namespace: 'dbusers', serviceName: 'test' });
  vi.spyOn(metrics, 'publishStoredMetrics').mockImplementation(() => metrics);
  return { logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }), metrics };
};
const handler = (extra: Partial<CentralSettings> = {}) =>
  makeCentralHandler({
    ...quiet(),
    ...extra,
    env: { ...env, ...extra.env },
    codecommit: new CodeCommitClient({}),
    eventbridge: new EventBridgeClient({}),
    ssm: new SSMClient({}),
    targetClients: () => ({ ssm: new SSMClient({}), lambda: new LambdaClient({}) }),
  });
const push = (detail: Record<string, unknown>) =>
  repositoryStateChange(
    { commitId: 'new', oldCommitId: 'old', repositoryName: 'users', ...detail },
    { id: 'push-event-1', ...USERS_REPOSITORY },
  );
/** The documented "pullRequestCreated" of pull request 7 (src1 into dst1, on main). */
const prCreated = {
  version: '0',
  id: 'pr-1',
  'detail-type': 'CodeCommit Pull Request State Change',
  source: 'aws.codecommit',
  account: '111122223333',
  time: '2026-12-04T12:00:00Z',
  region: 'eu-west-1',
  resources: [],
  detail: {
    event: 'pullRequestCreated',
    pullRequestId: '7',
    pullRequestStatus: 'Open',
    repositoryNames: ['users'],
    destinationReference: 'refs/heads/main',
    destinationCommit: 'dst1',
    sourceCommit: 'src1',
  },
};
const tree = () => {
  cc.on(GetFolderCommand).resolves({ files: [{ absolutePath: 'users/payments-prod.yaml', blobId: 'b1' }] });
  cc.on(GetBlobCommand).resolves({
    content: new TextEncoder().encode(readFileSync('users/payments-prod.yaml', 'utf8')),
  });
  eb.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{}] });
};
/** The commit changed users/payments-prod.yaml. */
const accountFileChanged = () => {
  cc.on(GetDifferencesCommand).resolves({
    differences: [{ afterBlob: { path: 'users/payments-prod.yaml', blobId: 'b1' } }],
  });
};
/** The executor in the database account answers inspect with a server holding no managed account. */
const serverIsEmpty = () => {
  lambda.on(InvokeCommand).resolves({
    StatusCode: 200,
    Payload: new TextEncoder().encode(JSON.stringify(emptyAuroraServer)) as never,
  });
};
/** What the executor was asked, decoded. */
const invoked = () =>
  lambda
    .commandCalls(InvokeCommand)
    .map((c) => JSON.parse(new TextDecoder().decode(c.args[0].input.Payload as Uint8Array)));
const published = () => eb.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries![0]!.DetailType);

/** The automation succeeds at once, the executor reporting every action it was sent as done. */
const automationSucceeds = () => {
  ssm.on(StartAutomationExecutionCommand).resolves({ AutomationExecutionId: 'parent-1' });
  ssm
    .on(DescribeAutomationExecutionsCommand)
    .resolves({ AutomationExecutionMetadataList: [{ AutomationExecutionId: 'child-1' }] });
  ssm.on(GetAutomationExecutionCommand, { AutomationExecutionId: 'parent-1' }).resolves({
    AutomationExecution: { AutomationExecutionStatus: 'Success' },
  });
  ssm.on(GetAutomationExecutionCommand, { AutomationExecutionId: 'child-1' }).callsFake(() => {
    const sent = ssm
      .commandCalls(StartAutomationExecutionCommand)
      .at(-1)!
      .args[0].input.Parameters!.Batch!.join('');
    const { actions } = JSON.parse(sent) as { actions: { kind: string; user: string; host: string }[] };
    const results = actions.map((a) => ({
      kind: a.kind,
      user: a.user,
      host: a.host,
      status: 'ok',
      message: 'done',
    }));
    return {
      AutomationExecution: {
        AutomationExecutionStatus: 'Success',
        Outputs: { 'invokeBatch.Payload': [JSON.stringify({ cluster: 'orders', ok: true, results })] },
      },
    };
  });
};
const detailOf = (type: string) =>
  JSON.parse(
    eb.commandCalls(PutEventsCommand).find((c) => c.args[0].input.Entries![0]!.DetailType === type)!.args[0]
      .input.Entries![0]!.Detail!,
  );

describe('the central reconciler Lambda', () => {
  it('ignores a push to another branch without a single AWS call', async () => {
    expect(await handler()(push({ referenceFullName: 'refs/heads/dev', referenceName: 'dev' }))).toEqual({
      ignored: 'a change of refs/heads/dev, not of refs/heads/main',
    });
    expect([cc.calls().length, eb.calls().length, ssm.calls().length, lambda.calls().length]).toEqual([
      0, 0, 0, 0,
    ]);
  });

  it('ignores comment events (its own plan comment among them), so a comment cannot loop', async () => {
    const comment = {
      version: '0',
      id: 'c-1',
      'detail-type': 'CodeCommit Comment on Pull Request',
      source: 'aws.codecommit',
      account: '111122223333',
      time: '2026-12-04T12:00:00Z',
      region: 'eu-west-1',
      resources: ['arn:aws:codecommit:eu-west-1:111122223333:users'],
      detail: {
        event: 'commentOnPullRequestCreated',
        callerUserArn: env.DBUSERS_COMMENT_AUTHOR_ARN,
        pullRequestId: '7',
        repositoryName: 'users',
        beforeCommitId: 'dst1',
        afterCommitId: 'src1',
        commentId: 'c1',
      },
    };
    expect(await handler()(comment)).toEqual({ ignored: expect.any(String) });
    expect([cc.calls().length, eb.calls().length, ssm.calls().length, lambda.calls().length]).toEqual([
      0, 0, 0, 0,
    ]);
  });

  it('reconciles nothing for a push that changed no account file, and says so on the bus', async () => {
    tree();
    cc.on(GetDifferencesCommand).resolves({
      differences: [{ afterBlob: { path: 'README.md', blobId: 'r' } }],
    });
    expect(await handler()(push({}))).toEqual({ flow: 'push', status: 'in sync' });
    expect(cc.commandCalls(GetDifferencesCommand).map((c) => c.args[0].input)).toEqual([
      {
        repositoryName: 'users',
        beforeCommitSpecifier: 'old',
        afterCommitSpecifier: 'new',
        beforePath: 'users',
        afterPath: 'users',
        NextToken: undefined,
      },
    ]);
    expect(cc.commandCalls(GetFolderCommand)[0]!.args[0].input).toEqual({
      repositoryName: 'users',
      commitSpecifier: 'new',
      folderPath: 'users',
    });
    expect(lambda.calls()).toHaveLength(0);
    expect(ssm.calls()).toHaveLength(0);
    expect(published()).toEqual(['Plan Computed']);
  });

  it('finds drift on the schedule through the executor in the database account, and repairs nothing the YAML does not ask to', async () => {
    tree();
    serverIsEmpty();
    const schedule = {
      version: '0',
      id: 'sched-9',
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: '111122223333',
      time: '2026-12-04T11:00:00Z',
      region: 'eu-west-1',
      resources: [],
      detail: {},
    };
    const { logger, metrics } = quiet();
    const logged = vi.spyOn(logger, 'info');
    const counted = vi.spyOn(metrics, 'addMetric');
    const flushed = vi.mocked(metrics.publishStoredMetrics);
    const perTarget: unknown[] = [];
    vi.spyOn(metrics, 'singleMetric').mockImplementation(() => {
      const single = new Metrics({ namespace: 'dbusers', singleMetric: true });
      vi.spyOn(single, 'publishStoredMetrics').mockImplementation(() => {
        perTarget.push(JSON.parse(JSON.stringify(single.serializeMetrics())));
        return single;
      });
      return single;
    });
    expect(await handler({ logger, metrics })(schedule)).toEqual({ flow: 'drift', status: 'changes' });
    expect(logged.mock.calls).toEqual([
      [
        'run',
        {
          event: 'sched-9',
          flow: 'drift',
          status: 'changes',
          targets: 1,
          failures: [],
          durationMs: expect.any(Number),
        },
      ],
    ]);
    expect(counted.mock.calls).toEqual([
      ['Targets', 'Count', 1],
      ['TargetsFailed', 'Count', 0],
      ['RunsSucceeded', 'Count', 1],
      ['RunDuration', 'Milliseconds', expect.any(Number)],
    ]);
    expect(flushed).toHaveBeenCalledTimes(1);
    expect(perTarget).toEqual([
      expect.objectContaining({
        target: 'payments-prod/orders',
        DriftedAccounts: 3,
        _aws: expect.objectContaining({
          CloudWatchMetrics: [
            {
              Namespace: 'dbusers',
              Dimensions: [['service', 'target']],
              Metrics: [{ Name: 'DriftedAccounts', Unit: 'Count' }],
            },
          ],
        }),
      }),
    ]);
    expect(invoked()).toMatchObject([
      { action: 'inspect', target: { name: 'orders', account: '111122223333' } },
    ]);
    expect(cc.commandCalls(GetFolderCommand)[0]!.args[0].input.commitSpecifier).toBe('main');
    expect(ssm.commandCalls(StartAutomationExecutionCommand)).toHaveLength(0);
    expect(published()).toEqual(['Drift Detected', 'Plan Computed']);
  });

  it('plans a pull request on its merge result and posts one comment, applying nothing', async () => {
    tree();
    serverIsEmpty();
    cc.on(GetPullRequestCommand).resolves({
      pullRequest: {
        pullRequestId: '7',
        pullRequestTargets: [{ mergeBase: 'base1', sourceCommit: 'src1', destinationCommit: 'dst1' }],
      },
    });
    accountFileChanged();
    cc.on(GetCommentsForPullRequestCommand).resolves({ commentsForPullRequestData: [] });
    cc.on(PostCommentForPullRequestCommand).resolves({});
    expect(await handler()(prCreated)).toEqual({ flow: 'pull request', status: 'changes' });
    expect(cc.commandCalls(GetPullRequestCommand).map((c) => c.args[0].input)).toEqual([
      { pullRequestId: '7' },
    ]);
    expect(cc.commandCalls(GetDifferencesCommand).map((c) => c.args[0].input)).toContainEqual(
      expect.objectContaining({ beforeCommitSpecifier: 'base1', afterCommitSpecifier: 'src1' }),
    );
    const posted = cc.commandCalls(PostCommentForPullRequestCommand).map((c) => c.args[0].input);
    expect(posted).toEqual([
      expect.objectContaining({
        pullRequestId: '7',
        repositoryName: 'users',
        beforeCommitId: 'dst1',
        afterCommitId: 'src1',
      }),
    ]);
    expect(posted[0]!.content).toContain('<!-- dbusers:plan v1 -->');
    expect(posted[0]!.content).toContain("+ create user 'audit_rw'@'%'");
    expect(posted[0]!.content!.length).toBeLessThanOrEqual(10_240);
    expect(ssm.calls()).toHaveLength(0);
    expect(invoked().map((p) => p.action)).toEqual(['inspect']);
  });

  describe('plans bound to review (onDigestMismatch)', () => {
    const ME = env.DBUSERS_COMMENT_AUTHOR_ARN;
    /** users/ at every commit, with `extra` top-level YAML; the push changed that file. */
    const treeWith = (extra: string) => {
      tree();
      cc.on(GetBlobCommand).resolves({
        content: new TextEncoder().encode(`${readFileSync('users/payments-prod.yaml', 'utf8')}${extra}`),
      });
      accountFileChanged();
    };
    /** Pull request 8 merged as commit `new` (pull request 9, closed unmerged, comes first). */
    const mergedWithComment = (content: string) => {
      cc.on(ListPullRequestsCommand).resolves({ pullRequestIds: ['9', '8'] });
      cc.on(GetPullRequestCommand, { pullRequestId: '9' }).resolves({
        pullRequest: {
          pullRequestTargets: [
            { destinationReference: 'refs/heads/main', mergeMetadata: { isMerged: false } },
          ],
        },
      });
      cc.on(GetPullRequestCommand, { pullRequestId: '8' }).resolves({
        pullRequest: {
          pullRequestTargets: [
            {
              destinationReference: 'refs/heads/main',
              sourceCommit: 'src8',
              mergeMetadata: { isMerged: true, mergeCommitId: 'new' },
            },
          ],
        },
      });
      cc.on(GetCommentsForPullRequestCommand).resolves({
        commentsForPullRequestData: [{ comments: [{ commentId: 'c8', authorArn: ME, content }] }],
      });
    };
    it('refuses a plan that is not the one shown on the merged pull request, when the account file says refuse', async () => {
      treeWith('onDigestMismatch: refuse\n');
      serverIsEmpty();
      mergedWithComment('<!-- dbusers:plan v1 -->\n### plan\n\nDigests: `payments-prod/orders` 0123456789ab');
      const { logger, metrics } = quiet();
      const warned = vi.spyOn(logger, 'warn');
      expect(await handler({ logger, metrics })(push({}))).toEqual({ flow: 'push', status: 'failed' });
      expect(ssm.calls()).toHaveLength(0);
      expect(cc.commandCalls(ListPullRequestsCommand).map((c) => c.args[0].input)).toEqual([
        { repositoryName: 'users', pullRequestStatus: 'CLOSED', maxResults: 25, nextToken: undefined },
      ]);
      expect(cc.commandCalls(GetPullRequestCommand).map((c) => c.args[0].input)).toEqual([
        { pullRequestId: '9' },
        { pullRequestId: '8' },
      ]);
      expect(cc.commandCalls(GetCommentsForPullRequestCommand).map((c) => c.args[0].input)).toEqual([
        { pullRequestId: '8', nextToken: undefined },
      ]);
      const mismatch = {
        cluster: 'payments-prod/orders',
        shown: '0123456789ab',
        applied: expect.stringMatching(/^[0-9a-f]{12}$/),
        pullRequest: '8',
        decision: 'refused',
      };
      expect(warned.mock.calls[0]![1]).toMatchObject({
        status: 'failed',
        failures: [
          expect.stringMatching(
            /^payments-prod\/orders \(review\): plan [0-9a-f]{12} is not the reviewed 0123456789ab \(pull request 8\); onDigestMismatch: refuse/,
          ),
        ],
        digestMismatches: [mismatch],
      });
      expect(detailOf('Plan Computed').mismatches).toEqual([mismatch]);
    });

    it('applies the plan the pull request showed, with no mismatch: the comment of the pull request flow, read back', async () => {
      treeWith('onDigestMismatch: refuse\n');
      serverIsEmpty();
      cc.on(GetPullRequestCommand, { pullRequestId: '7' }).resolves({
        pullRequest: {
          pullRequestTargets: [{ mergeBase: 'base1', sourceCommit: 'src1', destinationCommit: 'dst1' }],
        },
      });
      cc.on(GetCommentsForPullRequestCommand).resolves({ commentsForPullRequestData: [] });
      cc.on(PostCommentForPullRequestCommand).resolves({});
      await handler()(prCreated);
      const shown = cc.commandCalls(PostCommentForPullRequestCommand)[0]!.args[0].input.content!;
      mergedWithComment(shown);
      automationSucceeds();
      expect(await handler()(push({}))).toEqual({ flow: 'push', status: 'applied' });
      expect(ssm.commandCalls(StartAutomationExecutionCommand)).toHaveLength(1);
      expect(detailOf('Apply Succeeded').mismatches).toEqual([]);
    });

    it('applies by default and says the plan differed, or that no reviewed plan was found', async () => {
      treeWith('');
      serverIsEmpty();
      cc.on(ListPullRequestsCommand).resolves({ pullRequestIds: [] });
      automationSucceeds();
      expect(await handler()(push({}))).toEqual({ flow: 'push', status: 'applied' });
      expect(detailOf('Apply Succeeded').mismatches).toEqual([
        {
          cluster: 'payments-prod/orders',
          applied: expect.stringMatching(/^[0-9a-f]{12}$/),
          decision: 'applied',
        },
      ]);
    });
  });

  describe('the GitHub workflow', () => {
    const sha = (c: string) => c.repeat(40);
    const workflow = (action: string, extra: Record<string, unknown> = {}) => ({
      source: 'dbusers.github',
      action,
      repository: 'example/db-users',
      commit: sha('c'),
      runId: '4242',
      files: { 'users/payments-prod.yaml': readFileSync('users/payments-prod.yaml', 'utf8') },
      ...extra,
    });
    const pullRequest = workflow('pull_request', {
      pullRequest: { number: 12, base: sha('f'), head: sha('e') },
    });

    it('plans the merge commit it was handed and returns the comment for the workflow to post, applying nothing', async () => {
      eb.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{}] });
      serverIsEmpty();
      const outcome = await handler()(pullRequest);
      expect(outcome).toMatchObject({ flow: 'pull request', status: 'changes' });
      const { comment } = outcome as { comment: string };
      expect(
        comment.startsWith(
          '<!-- dbusers:plan v1 -->\n### dbusers plan of the merge result (#12: eeeeeeee into ffffffff)',
        ),
      ).toBe(true);
      expect(comment).toMatch(/^Digests: `payments-prod\/orders` [0-9a-f]{12}$/m);
      expect(comment).toContain("+ create user 'audit_rw'@'%'");
      expect(comment.length).toBeLessThanOrEqual(65_536);
      expect(cc.calls()).toHaveLength(0);
      expect(ssm.calls()).toHaveLength(0);
      expect(invoked().map((p) => p.action)).toEqual(['inspect']);
    });

    it('applies a push to main, reconciling only the account files the workflow says changed', async () => {
      eb.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{}] });
      serverIsEmpty();
      automationSucceeds();
      const changed = (files: string[]) => workflow('push', { before: sha('a'), changed: files });
      expect(await handler()(changed([]))).toEqual({ flow: 'push', status: 'in sync' });
      expect(lambda.calls()).toHaveLength(0);
      expect(await handler()(changed(['users/payments-prod.yaml']))).toEqual({
        flow: 'push',
        status: 'applied',
      });
      const [start] = ssm.commandCalls(StartAutomationExecutionCommand).map((c) => c.args[0].input);
      expect(start).toMatchObject({
        DocumentName: 'dbusers-executor',
        TargetLocations: [expect.objectContaining({ Accounts: ['111122223333'] })],
      });
      expect(cc.calls()).toHaveLength(0);
    });

    it('runs only pull requests in the read-only function the pull-request role may invoke', async () => {
      const planner = (event: unknown) =>
        makeCentralHandler({
          ...quiet(),
          env: { ...env, DBUSERS_READ_ONLY: 'true' },
          codecommit: new CodeCommitClient({}),
        })(event as never);
      expect(await planner(workflow('push'))).toEqual({
        ignored: 'this function only plans pull requests; push needs the apply role',
      });
      expect(await planner(workflow('schedule'))).toEqual({
        ignored: expect.stringContaining('needs the apply role'),
      });
      expect(await planner(push({}))).toEqual({
        ignored: 'this function only plans pull requests from the GitHub workflow',
      });
      expect([cc.calls().length, eb.calls().length, ssm.calls().length, lambda.calls().length]).toEqual([
        0, 0, 0, 0,
      ]);
    });

    it('refuses a malformed request whole, naming every problem, before any AWS call', async () => {
      const bad = workflow('pull_request', {
        commit: 'HEAD',
        files: { '../etc/passwd.yaml': 'x', 'users/a.yaml': 3 },
        runId: undefined,
      });
      await expect(handler()(bad)).rejects.toThrow(
        'invalid dbusers.github event: commit must be a 40-hex commit id; files: "../etc/passwd.yaml" is not an account file under users/ with its text; files: "users/a.yaml" is not an account file under users/ with its text; pullRequest must give number, base and head; runId must be the workflow run id',
      );
      expect([cc.calls().length, eb.calls().length, ssm.calls().length, lambda.calls().length]).toEqual([
        0, 0, 0, 0,
      ]);
    });
  });

  describe('results from SSM status-change events (DBUSERS_RESULTS=events)', () => {
    /** The documented "EC2 Automation Execution Status-change Notification", for our document. */
    const ended = (ExecutionId: string, Status = 'Success', Definition = 'dbusers-executor') => ({
      version: '0',
      id: 'd290ece9-1088-4383-9df6-cd5b4ac42b99',
      'detail-type': 'EC2 Automation Execution Status-change Notification',
      source: 'aws.ssm',
      account: '999988887777',
      time: '2026-12-04T19:43:35Z',
      region: 'eu-west-1',
      resources: [
        `arn:aws:ssm:eu-west-1:999988887777:automation-execution/${ExecutionId}`,
        `arn:aws:ssm:eu-west-1:999988887777:automation-definition/${Definition}:1`,
      ],
      detail: {
        ExecutionId,
        Definition,
        DefinitionVersion: 1.0,
        Status,
        EndTime: 'Dec 4, 2026 7:43:25 PM',
        StartTime: 'Dec 4, 2026 7:43:23 PM',
        Time: 2630.0,
        ExecutedBy: 'arn:aws:sts::999988887777:assumed-role/dbusers-reconciler/dbusers-reconciler',
      },
    });
    const eventsMode = () => handler({ env: { DBUSERS_RESULTS: 'events' } });

    it('starts the automations and returns without waiting; the status-change event brings the results', async () => {
      tree();
      accountFileChanged();
      cc.on(ListPullRequestsCommand).resolves({ pullRequestIds: [] });
      serverIsEmpty();
      automationSucceeds();
      expect(await eventsMode()(push({}))).toEqual({ flow: 'push', status: 'dispatched' });
      expect(ssm.commandCalls(StartAutomationExecutionCommand)).toHaveLength(1);
      expect(ssm.commandCalls(GetAutomationExecutionCommand)).toHaveLength(0);
      expect(detailOf('Apply Started').results).toEqual([
        { cluster: 'orders', ok: true, results: [], started: ['parent-1'] },
      ]);

      // The parent carries its batch: the collection reads it back from the execution.
      const batch = ssm.commandCalls(StartAutomationExecutionCommand)[0]!.args[0].input.Parameters!.Batch!;
      ssm.on(GetAutomationExecutionCommand, { AutomationExecutionId: 'parent-1' }).resolves({
        AutomationExecution: {
          AutomationExecutionId: 'parent-1',
          AutomationExecutionStatus: 'Success',
          Parameters: { Action: ['batch'], Batch: batch },
        },
      });
      eb.resetHistory();
      expect(await eventsMode()(ended('parent-1'))).toEqual({ flow: 'results', status: 'applied' });
      expect(ssm.commandCalls(GetAutomationExecutionCommand).map((c) => c.args[0].input)).toEqual([
        { AutomationExecutionId: 'parent-1' },
        { AutomationExecutionId: 'child-1' },
      ]);
      expect(ssm.commandCalls(DescribeAutomationExecutionsCommand).map((c) => c.args[0].input)).toEqual([
        { Filters: [{ Key: 'ParentExecutionId', Values: ['parent-1'] }] },
      ]);
      const applied = detailOf('Apply Succeeded');
      expect(applied).toMatchObject({
        cluster: 'payments-prod/orders',
        execution: 'parent-1',
        batch: expect.any(String),
      });
      expect(applied.results[0].results.map((r: { user: string }) => r.user).sort()).toEqual([
        'app_iam',
        'audit_rw',
        'reporting',
      ]);
    });

    it('collects nothing from a run of the single-action form (a person in the console)', async () => {
      ssm.on(GetAutomationExecutionCommand, { AutomationExecutionId: 'manual-1' }).resolves({
        AutomationExecution: {
          AutomationExecutionStatus: 'Success',
          Parameters: { Action: ['create_user'], DatabaseUserName: ['alice'], Batch: ['-'] },
        },
      });
      expect(await eventsMode()(ended('manual-1'))).toEqual({ flow: 'results', status: 'in sync' });
      expect(ssm.commandCalls(GetAutomationExecutionCommand)).toHaveLength(1);
      expect(ssm.commandCalls(DescribeAutomationExecutionsCommand)).toHaveLength(0);
      expect(eb.calls()).toHaveLength(0);
    });

    it('ignores executions of other documents and statuses that have not ended', async () => {
      for (const event of [ended('x', 'InProgress'), ended('x', 'Success', 'AWS-RestartEC2Instance')])
        expect(await eventsMode()(event)).toEqual({ ignored: expect.any(String) });
      expect([ssm.calls().length, eb.calls().length]).toEqual([0, 0]);
    });
  });

  describe('with the settings the CDK stack gives each function', () => {
    /** The environment of a function of the synthesised central stack (tokens as plain strings). */
    function deployedEnv(repository: RepositorySpec, name: string): Record<string, string> {
      const bundleDir = tempDir('dbusers-fake-bundle-');
      for (const f of ['reconciler', 'executor']) {
        mkdirSync(join(bundleDir, f));
        writeFileSync(join(bundleDir, f, 'index.mjs'), 'export const handler = () => {};\n');
      }
      const stack = new CentralStack(new App(), 'c', {
        env: { account: '999988887777', region: 'eu-west-1' },
        repository,
        databaseAccounts: ['111122223333'],
        bundleDir,
      });
      const fn = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function')).find(
        (f) => f.Properties.FunctionName === name,
      )!;
      const vars = fn.Properties.Environment.Variables as Record<string, unknown>;
      return Object.fromEntries(
        Object.entries(vars).map(([k, v]) => [
          k,
          typeof v === 'string' ? v : 'arn:aws:iam::999988887777:role/x',
        ]),
      );
    }
    const deployed = (env: Record<string, string>) =>
      makeCentralHandler({
        ...quiet(),
        env,
        codecommit: new CodeCommitClient({}),
        eventbridge: new EventBridgeClient({}),
        ssm: new SSMClient({}),
        targetClients: () => ({ ssm: new SSMClient({}), lambda: new LambdaClient({}) }),
      });

    it('the planner plans a GitHub pull request; the reconciler starts a push and returns', async () => {
      eb.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{}] });
      serverIsEmpty();
      const sha = (c: string) => c.repeat(40);
      const planner = deployed(
        deployedEnv({ github: { owner: 'example', repo: 'db-users' } }, 'dbusers-planner'),
      );
      const outcome = await planner({
        source: 'dbusers.github',
        action: 'pull_request',
        repository: 'example/db-users',
        commit: sha('c'),
        runId: '1',
        pullRequest: { number: 3, base: sha('a'), head: sha('b') },
        files: { 'users/payments-prod.yaml': readFileSync('users/payments-prod.yaml', 'utf8') },
      });
      expect(outcome).toMatchObject({
        flow: 'pull request',
        status: 'changes',
        comment: expect.stringContaining('<!-- dbusers:plan v1 -->'),
      });

      tree();
      accountFileChanged();
      cc.on(ListPullRequestsCommand).resolves({ pullRequestIds: [] });
      automationSucceeds();
      const reconciler = deployed(deployedEnv({ codecommit: { name: 'users' } }, 'dbusers-reconciler'));
      expect(await reconciler(push({}))).toEqual({ flow: 'push', status: 'dispatched' });
      expect(ssm.commandCalls(GetAutomationExecutionCommand)).toHaveLength(0);
    });
  });

  it('names the missing setting instead of failing later', async () => {
    const { logger, metrics } = quiet();
    const failed = vi.spyOn(logger, 'error');
    await expect(makeCentralHandler({ env: {}, logger, metrics })(push({}))).rejects.toThrow(
      /DBUSERS_REPOSITORY is not set/,
    );
    expect(failed.mock.calls).toEqual([
      [
        'invocation failed',
        {
          event: 'push-event-1',
          flow: 'push',
          error: 'CentralConfigError',
          detail: 'DBUSERS_REPOSITORY is not set: the reconciler Lambda needs it',
        },
      ],
    ]);
  });
});
