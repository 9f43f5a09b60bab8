/** The documented EventBridge events the handlers receive, as test fixtures. */

/**
 * A "CodeCommit Repository State Change" (reference/events-and-infra.md §2.1, the documented
 * example): a push to main, with what a test changes in its envelope and detail.
 */
export function repositoryStateChange(
  detail: Record<string, unknown> = {},
  envelope: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    version: '0',
    id: '3f7101d2-f1c4-d0a4-6d89-69fc887cc5e4',
    'detail-type': 'CodeCommit Repository State Change',
    source: 'aws.codecommit',
    account: '111111111111',
    time: '2023-10-10T21:05:45Z',
    region: 'us-east-1',
    resources: ['arn:aws:codecommit:us-east-1:111111111111:some-repo'],
    ...envelope,
    detail: {
      callerUserArn: 'arn:aws:iam::111111111111:user/admin',
      commitId: 'f485fcc95a795517f279d0a877227e51208b0dfc',
      event: 'referenceUpdated',
      oldCommitId: 'a399698fbd740af9c78fb2dd7f667656b70646b6',
      referenceFullName: 'refs/heads/main',
      referenceName: 'main',
      referenceType: 'branch',
      repositoryId: '280e6f04',
      repositoryName: 'some-repo',
      ...detail,
    },
  };
}

/** The envelope of a push to the example's `users` repository in account 111122223333. */
export const USERS_REPOSITORY = {
  account: '111122223333',
  region: 'eu-west-1',
  time: '2026-12-04T10:00:00Z',
  resources: ['arn:aws:codecommit:eu-west-1:111122223333:users'],
};
