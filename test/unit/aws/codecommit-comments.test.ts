import {
  CodeCommitClient,
  GetCommentsForPullRequestCommand,
  GetPullRequestCommand,
  ListPullRequestsCommand,
  PostCommentForPullRequestCommand,
  UpdateCommentCommand,
} from '@aws-sdk/client-codecommit';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { CodeCommitComments } from '../../../reconciler/src/adapters/aws/codecommit-comments.js';

const cc = mockClient(CodeCommitClient);
afterEach(() => cc.reset());
const ME = 'arn:aws:sts::111122223333:assumed-role/dbusers-reconciler/dbusers-pull-request';
const MARKER = '<!-- dbusers:plan v1 -->';
const pr = { pullRequestId: '7', repository: 'users', sourceCommit: 'src1', destinationCommit: 'dst1' };
const comments = () => new CodeCommitComments(MARKER, ME, new CodeCommitClient({}));
const calls = () => cc.calls().map((c) => [c.args[0].constructor.name, c.args[0].input]);

describe('the pull-request comment on CodeCommit', () => {
  it('posts one when there is none, with a token so a redelivered event posts nothing twice', async () => {
    cc.on(GetCommentsForPullRequestCommand).resolves({ commentsForPullRequestData: [] });
    cc.on(PostCommentForPullRequestCommand).resolves({});
    expect(await comments().upsert(pr, `${MARKER}\nplan A`)).toBe('posted');
    expect(calls()).toEqual([
      ['GetCommentsForPullRequestCommand', { pullRequestId: '7', nextToken: undefined }],
      [
        'PostCommentForPullRequestCommand',
        {
          pullRequestId: '7',
          repositoryName: 'users',
          beforeCommitId: 'dst1',
          afterCommitId: 'src1',
          content: `${MARKER}\nplan A`,
          clientRequestToken: expect.stringMatching(/^[0-9a-f]{64}$/),
        },
      ],
    ]);
  });

  it("updates its own comment in place (found on a later page), never someone else's with the marker", async () => {
    cc.on(GetCommentsForPullRequestCommand, { nextToken: undefined }).resolves({
      commentsForPullRequestData: [
        {
          comments: [
            {
              commentId: 'theirs',
              authorArn: 'arn:aws:iam::111122223333:user/mallory',
              content: `${MARKER}\nfake`,
            },
          ],
        },
      ],
      nextToken: 'p2',
    });
    cc.on(GetCommentsForPullRequestCommand, { nextToken: 'p2' }).resolves({
      commentsForPullRequestData: [
        { comments: [{ commentId: 'mine', authorArn: ME, content: `${MARKER}\nplan A` }] },
      ],
    });
    cc.on(UpdateCommentCommand).resolves({});
    expect(await comments().upsert(pr, `${MARKER}\nplan B`)).toBe('updated');
    expect(cc.commandCalls(UpdateCommentCommand).map((c) => c.args[0].input)).toEqual([
      { commentId: 'mine', content: `${MARKER}\nplan B` },
    ]);
    expect(cc.commandCalls(PostCommentForPullRequestCommand)).toHaveLength(0);
  });

  it('leaves an identical comment alone, and posts anew when its old one was deleted', async () => {
    cc.on(GetCommentsForPullRequestCommand).resolves({
      commentsForPullRequestData: [
        { comments: [{ commentId: 'mine', authorArn: ME, content: `${MARKER}\nplan A` }] },
      ],
    });
    expect(await comments().upsert(pr, `${MARKER}\nplan A`)).toBe('unchanged');
    expect(cc.commandCalls(UpdateCommentCommand)).toHaveLength(0);
    cc.on(UpdateCommentCommand).rejects(
      Object.assign(new Error('deleted'), { name: 'CommentDeletedException' }),
    );
    cc.on(PostCommentForPullRequestCommand).resolves({});
    expect(await comments().upsert(pr, `${MARKER}\nplan C`)).toBe('posted');
  });
});

describe('the review of a pushed commit', () => {
  const merged = (id: string, mergeCommitId: string, sourceCommit = `src${id}`) =>
    cc.on(GetPullRequestCommand, { pullRequestId: id }).resolves({
      pullRequest: {
        pullRequestTargets: [
          {
            destinationReference: 'refs/heads/main',
            sourceCommit,
            mergeMetadata: { isMerged: true, mergeCommitId },
          },
        ],
      },
    });

  it('finds the merged pull request of a fast-forwarded commit and reads the digests of its own comment', async () => {
    cc.on(ListPullRequestsCommand).resolves({ pullRequestIds: ['12'] });
    merged('12', 'ff1', 'ff1');
    cc.on(GetCommentsForPullRequestCommand).resolves({
      commentsForPullRequestData: [
        {
          comments: [
            {
              commentId: 'x',
              authorArn: 'arn:aws:iam::111122223333:user/mallory',
              content: `${MARKER}\nDigests: \`a/b\` ffffffffffff`,
            },
            {
              commentId: 'y',
              authorArn: ME,
              content: `${MARKER}\n### plan\n\nDigests: \`a/b\` 0123456789ab`,
            },
          ],
        },
      ],
    });
    expect(await comments().review('users', 'main', 'ff1')).toEqual({
      pullRequest: '12',
      digests: { 'a/b': '0123456789ab' },
    });
  });

  it('looks at the latest 50 closed pull requests at most, and finds nothing when none merged the commit', async () => {
    const ids = (from: number) => Array.from({ length: 25 }, (_, i) => String(from - i));
    cc.on(ListPullRequestsCommand, { nextToken: undefined }).resolves({
      pullRequestIds: ids(100),
      nextToken: 'p2',
    });
    cc.on(ListPullRequestsCommand, { nextToken: 'p2' }).resolves({
      pullRequestIds: ids(75),
      nextToken: 'p3',
    });
    cc.on(GetPullRequestCommand).resolves({
      pullRequest: {
        pullRequestTargets: [
          {
            destinationReference: 'refs/heads/main',
            mergeMetadata: { isMerged: true, mergeCommitId: 'other' },
          },
        ],
      },
    });
    expect(await comments().review('users', 'main', 'c1')).toBeUndefined();
    expect(cc.commandCalls(ListPullRequestsCommand).map((c) => c.args[0].input.nextToken)).toEqual([
      undefined,
      'p2',
    ]);
    expect(cc.commandCalls(GetPullRequestCommand)).toHaveLength(50);
    expect(cc.commandCalls(GetCommentsForPullRequestCommand)).toHaveLength(0);
  });

  it('gives a review with no digests when the merged pull request has no comment of ours', async () => {
    cc.on(ListPullRequestsCommand).resolves({ pullRequestIds: ['3'] });
    merged('3', 'm3');
    cc.on(GetCommentsForPullRequestCommand).resolves({ commentsForPullRequestData: [] });
    expect(await comments().review('users', 'main', 'm3')).toEqual({ pullRequest: '3', digests: {} });
  });
});
