/**
 * GitHub, through the workflow in the users repository (infra/github/dbusers.yml): GitHub Actions
 * assumes a role by OIDC and invokes the reconciler with the users/ tree of its checkout, since the
 * reconciler cannot read GitHub itself. On a pull request the checkout is GitHub's merge commit, so
 * the tree given is already the merge result.
 */
import { COMMENT_BUDGET } from '../plan/render.js';
import { shownDigests } from '../model/run.js';
import type { ReviewSource, SourceRepo, UnreadableFile } from '../ports/index.js';
import type { ReconcileDeps, ReconcileResult } from '../reconcile.js';
import { handleDrift, handlePush } from './events.js';
import { planMergeResult } from './pull-request.js';

/** What the workflow sends. */
export interface GitHubRequest {
  action: 'pull_request' | 'push' | 'schedule';
  repository: string;
  /** The commit whose tree `files` is (a pull request: GitHub's merge commit). */
  commit: string;
  /** A push: the previous head and the account files changed since (`git diff`); absent means all. */
  before?: string;
  changed?: string[];
  /** A pull request: its number, base and head, for the comment's title. */
  pullRequest?: { number: number; base: string; head: string };
  /** A push: the plan comment of the pull request that merged it, as the workflow found it. */
  review?: { pullRequest: number; comment: string };
  /** users/ at `commit`: path → text. */
  files: Map<string, string | UnreadableFile>;
  /** The workflow run: a rerun of the same run is the same event (idempotency). */
  eventId: string;
}

/** Raised for a payload that claims to come from the workflow and is malformed: nothing runs. */
export class GitHubEventError extends Error {
  override name = 'GitHubEventError';
}

/** The source marking the workflow's events. */
export const GITHUB_SOURCE = 'dbusers.github';

/** users/ of at most 5 MB: Lambda takes 6 MB per synchronous request. */
const MAX_TREE_BYTES = 5_000_000;

const SHA = /^[0-9a-f]{40}$/;
const ACCOUNT_FILE = /^users\/[A-Za-z0-9._/-]+\.ya?ml$/;

/** The workflow's request, undefined for any other event; a malformed one is an error, not ignored. */
export function parseGitHub(event: unknown): GitHubRequest | undefined {
  const e = event as Record<string, unknown>;
  if (e?.source !== GITHUB_SOURCE) return undefined;
  const problems: string[] = [];
  const action = e.action as GitHubRequest['action'];
  if (!['pull_request', 'push', 'schedule'].includes(action))
    problems.push(`action ${JSON.stringify(e.action)} is not pull_request, push or schedule`);
  if (typeof e.repository !== 'string' || !/^[\w.-]+\/[\w.-]+$/.test(e.repository))
    problems.push('repository must be owner/name');
  if (typeof e.commit !== 'string' || !SHA.test(e.commit)) problems.push('commit must be a 40-hex commit id');
  const files = new Map<string, string>();
  let bytes = 0;
  for (const [path, text] of Object.entries((e.files ?? {}) as Record<string, unknown>)) {
    if (!ACCOUNT_FILE.test(path) || path.includes('..') || typeof text !== 'string')
      problems.push(`files: ${JSON.stringify(path)} is not an account file under users/ with its text`);
    else files.set(path, text);
    bytes += typeof text === 'string' ? Buffer.byteLength(text) : 0;
  }
  if (bytes > MAX_TREE_BYTES) problems.push(`files: ${bytes} bytes, over ${MAX_TREE_BYTES}`);
  const changed = e.changed;
  if (changed !== undefined && (!Array.isArray(changed) || changed.some((p) => typeof p !== 'string')))
    problems.push('changed must be a list of paths');
  if (changed !== undefined && !SHA.test(String(e.before)))
    problems.push('changed needs before, the previous head');
  const pr = e.pullRequest as GitHubRequest['pullRequest'];
  if (
    action === 'pull_request' &&
    !(Number.isInteger(pr?.number) && SHA.test(pr?.base ?? '') && SHA.test(pr?.head ?? ''))
  )
    problems.push('pullRequest must give number, base and head');
  if (typeof e.runId !== 'string' || !/^[0-9]{1,20}$/.test(e.runId))
    problems.push('runId must be the workflow run id');
  const review = e.review as GitHubRequest['review'];
  const reviewOk =
    Number.isInteger(review?.pullRequest) &&
    typeof review?.comment === 'string' &&
    review.comment.length <= 65_536;
  if (review !== undefined && !reviewOk)
    problems.push('review must give pullRequest and comment (at most 65,536 characters)');
  if (problems.length) throw new GitHubEventError(`invalid ${GITHUB_SOURCE} event: ${problems.join('; ')}`);
  return {
    action,
    repository: e.repository as string,
    commit: e.commit as string,
    ...(changed ? { before: e.before as string, changed: changed as string[] } : {}),
    ...(pr ? { pullRequest: { number: pr.number, base: pr.base, head: pr.head } } : {}),
    ...(review ? { review: { pullRequest: review.pullRequest, comment: review.comment } } : {}),
    files,
    eventId: `github:${e.repository}:${e.runId}`,
  };
}

/**
 * Run the workflow's request on `deps` (whose source is {@link givenTree}): a pull request's plan of
 * the merge commit and its comment (GitHub's 65,536 characters), a push's apply bound to the review
 * the workflow found, or the drift check. The Lambda and `dbusers event` both run it.
 */
export async function handleGitHub(
  request: GitHubRequest,
  deps: ReconcileDeps,
): Promise<{ result: ReconcileResult; comment?: string }> {
  if (request.action === 'pull_request') {
    // parseGitHub guarantees a pull request's number, base and head.
    const { number, head, base } = request.pullRequest!;
    return planMergeResult(request.files, deps, {
      revision: request.commit,
      title: `#${number}: ${head.slice(0, 8)} into ${base.slice(0, 8)}`,
      both: [],
      budget: COMMENT_BUDGET.github,
    });
  }
  if (request.action === 'push') {
    const push = { commit: request.commit, before: request.before, eventId: request.eventId };
    return { result: await handlePush(push, { ...deps, reviews: givenReview(request) }) };
  }
  return { result: await handleDrift(deps, request.commit, request.eventId) };
}

/**
 * What the reviewers of a push saw: the digests of the comment the workflow found on the merged pull
 * request (none found: no reviewed plan, so every plan counts as a mismatch; see onDigestMismatch).
 */
function givenReview(request: GitHubRequest): ReviewSource {
  const { review } = request;
  return {
    reviewOf: async () =>
      review ? { pullRequest: String(review.pullRequest), digests: shownDigests(review.comment) } : undefined,
  };
}

/** The tree the workflow sent, as a source: the same files at any revision, and the changes it listed. */
export function givenTree(request: GitHubRequest): SourceRepo {
  return {
    readTree: async () => request.files,
    ...(request.changed ? { changedFiles: async () => request.changed! } : {}),
  };
}
