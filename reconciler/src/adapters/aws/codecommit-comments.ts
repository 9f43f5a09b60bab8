/**
 * dbusers' plan comment on a CodeCommit pull request, one per pull request, updated in place: found
 * again by its marker and by its author (the reconciler's own role), posted anew only when there is
 * none or it was deleted. A redelivered event posts nothing twice (clientRequestToken).
 */
import {
  CodeCommitClient,
  GetCommentsForPullRequestCommand,
  PostCommentForPullRequestCommand,
  UpdateCommentCommand,
} from '@aws-sdk/client-codecommit';
import { createHash } from 'node:crypto';
import type { PullRequestComments, PullRequestRef } from '../../ports/index.js';
import { RETRY_CONFIG } from './clients.js';

/** Errors that mean "post a new comment": the old one is gone or is not ours to edit. */
const REPOST = new Set([
  'CommentDeletedException',
  'CommentNotCreatedByCallerException',
  'CommentDoesNotExistException',
]);

export class CodeCommitComments implements PullRequestComments {
  private readonly client: CodeCommitClient;

  /** `authorArn`: the ARN the reconciler posts as (its assumed role), so only its own comment is edited. */
  constructor(
    private readonly marker: string,
    private readonly authorArn: string,
    client?: CodeCommitClient,
  ) {
    this.client = client ?? new CodeCommitClient(RETRY_CONFIG);
  }

  async upsert(pr: PullRequestRef, content: string): Promise<'posted' | 'updated' | 'unchanged'> {
    const mine = await this.find(pr);
    if (mine?.content === content) return 'unchanged';
    if (mine?.commentId) {
      try {
        await this.client.send(new UpdateCommentCommand({ commentId: mine.commentId, content }));
        return 'updated';
      } catch (error) {
        if (!REPOST.has((error as Error).name)) throw error;
      }
    }
    await this.client.send(
      new PostCommentForPullRequestCommand({
        pullRequestId: pr.pullRequestId,
        repositoryName: pr.repository,
        beforeCommitId: pr.destinationCommit,
        afterCommitId: pr.sourceCommit,
        content,
        clientRequestToken: createHash('sha256')
          .update(`${pr.pullRequestId}\0${pr.sourceCommit}\0${content}`)
          .digest('hex')
          .slice(0, 64),
      }),
    );
    return 'posted';
  }

  /** The reconciler's own, undeleted comment with the marker, over every page. */
  private async find(pr: PullRequestRef): Promise<{ commentId?: string; content?: string } | undefined> {
    let nextToken: string | undefined;
    do {
      const page = await this.client.send(
        new GetCommentsForPullRequestCommand({
          pullRequestId: pr.pullRequestId,
          repositoryName: pr.repository,
          nextToken,
        }),
      );
      for (const group of page.commentsForPullRequestData ?? []) {
        const found = group.comments?.find(
          (c) => !c.deleted && c.authorArn === this.authorArn && c.content?.includes(this.marker),
        );
        if (found) return found;
      }
      nextToken = page.nextToken;
    } while (nextToken);
    return undefined;
  }
}
