import {
  CodeCommitClient,
  GetCommentsForPullRequestCommand,
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
      [
        'GetCommentsForPullRequestCommand',
        { pullRequestId: '7', repositoryName: 'users', nextToken: undefined },
      ],
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
