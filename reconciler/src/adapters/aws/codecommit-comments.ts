/**
 * dbusers' plan comment on a CodeCommit pull request, one per pull request, updated in place: found
 * again by its marker and by its author (the reconciler's own role), posted anew only when there is
 * none or it was deleted. A redelivered event posts nothing twice (clientRequestToken).
 */
import {
  CodeCommitClient,
  GetCommentsForPullRequestCommand,
  GetPullRequestCommand,
  ListPullRequestsCommand,
  PostCommentForPullRequestCommand,
  UpdateCommentCommand,
} from '@aws-sdk/client-codecommit';
import { createHash } from 'node:crypto';
import { shownDigests } from '../../model/run.js';
import type { PullRequestComments, PullRequestRef, Review } from '../../ports/index.js';
import { RETRY_CONFIG } from './clients.js';

/** Errors that mean "post a new comment": the old one is gone or is not ours to edit. */
const REPOST = new Set([
  'CommentDeletedException',
  'CommentNotCreatedByCallerException',
  'CommentDoesNotExistException',
]);

/** Closed pull requests looked at to find the one a push merged (the latest come first). */
const REVIEW_SCAN = 50;

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
    const mine = await this.find(pr.pullRequestId);
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

  /**
   * The review of a pushed commit: among the latest closed pull requests into `branch`, the merged
   * one whose merge (or fast-forwarded source) commit it is, and the digests its plan comment shows
   * (none when it has no comment of ours). Undefined when no such pull request is found.
   */
  async review(repository: string, branch: string, commit: string): Promise<Review | undefined> {
    let nextToken: string | undefined;
    let scanned = 0;
    do {
      const page = await this.client.send(
        new ListPullRequestsCommand({
          repositoryName: repository,
          pullRequestStatus: 'CLOSED',
          maxResults: 25,
          nextToken,
        }),
      );
      for (const pullRequestId of page.pullRequestIds ?? []) {
        const { pullRequest } = await this.client.send(new GetPullRequestCommand({ pullRequestId }));
        const into = pullRequest?.pullRequestTargets?.find(
          (t) => t.destinationReference === `refs/heads/${branch}`,
        );
        const merge = into?.mergeMetadata;
        if (!merge?.isMerged || (merge.mergeCommitId !== commit && into?.sourceCommit !== commit)) continue;
        const mine = await this.find(pullRequestId);
        return { pullRequest: pullRequestId, digests: mine?.content ? shownDigests(mine.content) : {} };
      }
      scanned += page.pullRequestIds?.length ?? 0;
      nextToken = page.nextToken;
    } while (nextToken && scanned < REVIEW_SCAN);
    return undefined;
  }

  /**
   * The reconciler's own, undeleted comment with the marker, over every page and every commit of the
   * pull request: asked by id alone, since with repositoryName CodeCommit also requires the before
   * and after commit ids (CommitIdRequiredException) and answers for that pair only.
   */
  private async find(pullRequestId: string): Promise<{ commentId?: string; content?: string } | undefined> {
    let nextToken: string | undefined;
    do {
      const page = await this.client.send(new GetCommentsForPullRequestCommand({ pullRequestId, nextToken }));
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
