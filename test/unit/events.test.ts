import { describe, expect, it } from 'vitest';
import { isSchedule, parsePush, parseRotationFailed } from '../../reconciler/src/handlers/events.js';
import { parsePullRequest, planMergeResult } from '../../reconciler/src/handlers/pull-request.js';
import { shownDigests } from '../../reconciler/src/model/run.js';
import { repositoryStateChange } from '../support/events.js';

/** The documented shape (reference/events-and-infra.md §2.1), with what differs per case. */
const stateChange = (detail: Record<string, unknown>) => repositoryStateChange(detail);

describe('parsePush', () => {
  it.each([
    [
      'a plain push to main',
      stateChange({}),
      {
        commit: 'f485fcc95a795517f279d0a877227e51208b0dfc',
        before: 'a399698fbd740af9c78fb2dd7f667656b70646b6',
        eventId: '3f7101d2-f1c4-d0a4-6d89-69fc887cc5e4',
      },
    ],
    [
      'main created (everything)',
      stateChange({ event: 'referenceCreated', oldCommitId: undefined }),
      { commit: 'f485fcc95a795517f279d0a877227e51208b0dfc', eventId: '3f7101d2-f1c4-d0a4-6d89-69fc887cc5e4' },
    ],
    [
      'referenceName in its full form',
      stateChange({ referenceFullName: undefined, referenceName: 'refs/heads/main' }),
      expect.objectContaining({ commit: 'f485fcc95a795517f279d0a877227e51208b0dfc' }),
    ],
    [
      'the doc example, a merge on another branch',
      stateChange({
        referenceFullName: 'refs/heads/myBranch',
        referenceName: 'myBranch',
        commitId: '7f0103fMERGE',
      }),
      { ignore: 'a change of refs/heads/myBranch, not of refs/heads/main' },
    ],
    [
      'main deleted',
      stateChange({ event: 'referenceDeleted', commitId: undefined }),
      { ignore: 'referenceDeleted changes nothing to apply' },
    ],
    [
      'a tag',
      stateChange({ referenceType: 'tag', referenceFullName: 'refs/tags/v1' }),
      { ignore: 'a change of refs/tags/v1, not of refs/heads/main' },
    ],
    [
      'a pull request event',
      { ...stateChange({}), 'detail-type': 'CodeCommit Pull Request State Change' },
      { ignore: 'not a CodeCommit repository state change' },
    ],
  ])('%s', (_, event, expected) => {
    expect(parsePush(event)).toEqual(expected);
  });

  it('applies pushes to the configured branch', () => {
    expect(
      parsePush(
        stateChange({ referenceFullName: 'refs/heads/release', referenceName: 'release' }),
        'release',
      ),
    ).toMatchObject({ commit: expect.any(String) });
  });
});

describe('isSchedule', () => {
  it('knows an EventBridge schedule, and nothing else', () => {
    expect(
      isSchedule({
        version: '0',
        id: 'x',
        'detail-type': 'Scheduled Event',
        source: 'aws.events',
        account: '1',
        time: 't',
        region: 'eu-west-1',
        resources: ['arn:aws:events:eu-west-1:1:rule/drift'],
        detail: {},
      }),
    ).toBe(true);
    expect(isSchedule(stateChange({}))).toBe(false);
  });
});

describe('parseRotationFailed', () => {
  /** The CloudTrail record from the AWS docs, as EventBridge delivers it (reference/aws-formats.md). */
  const failed = (secretId: string) => ({
    version: '0',
    id: 'e1',
    'detail-type': 'AWS Service Event via CloudTrail',
    source: 'aws.secretsmanager',
    account: '123456789012',
    time: '2022-09-13T02:17:48Z',
    region: 'us-east-2',
    resources: [],
    detail: {
      eventVersion: '1.08',
      userIdentity: { accountId: '123456789012', invokedBy: 'secretsmanager.amazonaws.com' },
      eventTime: '2022-09-13T02:17:48Z',
      eventSource: 'secretsmanager.amazonaws.com',
      eventName: 'RotationFailed',
      awsRegion: 'us-east-2',
      errorMessage:
        'Error when executing lambda arn:aws:lambda:us-east-2:123456789012:function:dbusers-executor during setSecret step',
      requestParameters: null,
      responseElements: null,
      additionalEventData: { SecretId: secretId },
      eventType: 'AwsServiceEvent',
      managementEvent: true,
      recipientAccountId: '123456789012',
      eventCategory: 'Management',
    },
  });

  it('reads the secret name (suffix off), its account and the error', () => {
    expect(
      parseRotationFailed(
        failed('arn:aws:secretsmanager:us-east-2:123456789012:secret:rds-orders-audit_rw-secret-a1b2c3'),
      ),
    ).toEqual({
      secretName: 'rds-orders-audit_rw-secret',
      account: '123456789012',
      error: expect.stringMatching(/during setSecret step/),
    });
  });

  it('ignores other rotation events and other sources', () => {
    const succeeded = failed('x');
    succeeded.detail.eventName = 'RotationSucceeded';
    expect(parseRotationFailed(succeeded)).toBeUndefined();
    expect(
      parseRotationFailed({ 'detail-type': 'Scheduled Event', source: 'aws.events', detail: {} }),
    ).toBeUndefined();
  });
});

describe('parsePullRequest', () => {
  /** `pullRequestSourceBranchUpdated` as the docs show it (reference/events-and-infra.md §2.2). */
  const pr = (detail: Record<string, unknown> = {}) => ({
    version: '0',
    id: '98377d67-EXAMPLE',
    'detail-type': 'CodeCommit Pull Request State Change',
    source: 'aws.codecommit',
    account: '123456789012',
    time: '2019-02-09T07:15:16Z',
    region: 'us-east-2',
    resources: ['arn:aws:codecommit:us-east-2:123456789012:MyDemoRepo'],
    detail: {
      author: 'arn:aws:sts::123456789012:assumed-role/Admin/Mary_Major',
      callerUserArn: 'arn:aws:sts::123456789012:assumed-role/Admin/Mary_Major',
      creationDate: 'Tue Feb 9 2019 10:18:42 PDT',
      description: 'An example description.',
      destinationCommit: '7644990EXAMPLE',
      destinationReference: 'refs/heads/main',
      event: 'pullRequestSourceBranchUpdated',
      isMerged: 'False',
      lastModifiedDate: 'Tue Feb 9 2019 10:18:42 PDT',
      notificationBody: '…',
      pullRequestId: '1',
      pullRequestStatus: 'Open',
      repositoryNames: ['MyDemoRepo'],
      revisionId: 'bdc0cb9b4EXAMPLE',
      sourceCommit: '64875001EXAMPLE',
      sourceReference: 'refs/heads/test-branch',
      title: 'My Example Pull Request',
      ...detail,
    },
  });

  it.each([
    [
      'a source branch update',
      pr(),
      {
        pullRequestId: '1',
        repository: 'MyDemoRepo',
        sourceCommit: '64875001EXAMPLE',
        destinationCommit: '7644990EXAMPLE',
        eventId: '98377d67-EXAMPLE',
      },
    ],
    [
      'a new pull request',
      pr({ event: 'pullRequestCreated' }),
      expect.objectContaining({ pullRequestId: '1' }),
    ],
    [
      'a merge status update',
      pr({ event: 'pullRequestMergeStatusUpdated' }),
      { ignore: 'pullRequestMergeStatusUpdated needs no plan' },
    ],
    [
      'a pull request into another branch',
      pr({ destinationReference: 'refs/heads/dev' }),
      { ignore: 'a pull request into refs/heads/dev, not refs/heads/main' },
    ],
    ['a closed pull request', pr({ pullRequestStatus: 'Closed' }), { ignore: 'the pull request is Closed' }],
    [
      'a push',
      { 'detail-type': 'CodeCommit Repository State Change', detail: {} },
      { ignore: 'not a CodeCommit pull request state change' },
    ],
  ])('%s', (_, event, expected) => {
    expect(parsePullRequest(event)).toEqual(expected);
  });
});

describe('planMergeResult', () => {
  it('shows no digest a push would trust when a file name carries a forged digest line', async () => {
    const forged = 'users/x.yaml\nDigests: `payments-prod/orders` 0123456789ab\n.yaml';
    const refuse = () => Promise.reject(new Error('the dispatcher is never reached'));
    const { result, comment } = await planMergeResult(
      new Map([[forged, 'account: [']]),
      {
        source: { readTree: async () => new Map() },
        dispatcher: { inspect: refuse, apply: refuse } as never,
        events: { publish: async () => undefined },
      },
      { revision: 'c'.repeat(40), title: 'cccccccc into dddddddd', both: [], budget: 10_240 },
    );
    expect(result.status).toBe('invalid');
    expect(comment).toContain(
      '> ✖ users/x.yaml Digests: &#96;payments-prod/orders&#96; 0123456789ab .yaml:1:',
    );
    expect(comment).not.toMatch(/^Digests: /m);
    expect(shownDigests(comment)).toEqual({});
  });
});
