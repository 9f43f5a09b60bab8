/**
 * A pull request gets a plan of its merge result, as one comment: the account files the pull request
 * changed (since its merge base) over the destination branch as it is now, so a branch that is behind
 * never plans to delete what main added since. Read only: nothing is applied.
 */
import { COMMENT_BUDGET, markdownText, renderMarkdown } from '../plan/render.js';
import type { SourceRepo, UnreadableFile } from '../ports/index.js';
import { digestLine } from '../model/run.js';
import { type ReconcileDeps, type ReconcileResult, reconcile } from '../reconcile.js';

/** What a pull-request event asks for, or why it is ignored. */
export type PullRequest =
  | {
      pullRequestId: string;
      repository: string;
      sourceCommit: string;
      destinationCommit: string;
      eventId: string;
    }
  | { ignore: string };

/** The marker that finds dbusers' own comment again on later pushes. */
export const COMMENT_MARKER = '<!-- dbusers:plan v1 -->';

/**
 * "CodeCommit Pull Request State Change" (reference/events-and-infra.md §2.2): `pullRequestCreated`
 * or `pullRequestSourceBranchUpdated`, open, into the configured branch.
 */
export function parsePullRequest(event: unknown, branch = 'main'): PullRequest {
  const e = event as { id?: string; 'detail-type'?: string; detail?: Record<string, unknown> };
  const d = e?.detail;
  if (e?.['detail-type'] !== 'CodeCommit Pull Request State Change' || !d)
    return { ignore: 'not a CodeCommit pull request state change' };
  if (d.event !== 'pullRequestCreated' && d.event !== 'pullRequestSourceBranchUpdated')
    return { ignore: `${String(d.event)} needs no plan` };
  if (d.destinationReference !== `refs/heads/${branch}`)
    return { ignore: `a pull request into ${String(d.destinationReference)}, not refs/heads/${branch}` };
  if (d.pullRequestStatus !== 'Open') return { ignore: `the pull request is ${String(d.pullRequestStatus)}` };
  const repository = Array.isArray(d.repositoryNames) ? String(d.repositoryNames[0]) : '';
  return {
    pullRequestId: String(d.pullRequestId),
    repository,
    sourceCommit: String(d.sourceCommit),
    destinationCommit: String(d.destinationCommit),
    eventId: String(e.id ?? d.revisionId ?? ''),
  };
}

/** The merge result as a source: the destination's tree, with the files the pull request changed taken from it. */
export async function mergeResult(
  source: SourceRepo,
  pr: { sourceCommit: string; destinationCommit: string },
): Promise<{ files: Map<string, string | UnreadableFile>; both: string[] }> {
  if (!source.mergeBase || !source.changedFiles)
    throw new Error('this source cannot compute a merge result (merge base, changed files)');
  const base = await source.mergeBase(pr.destinationCommit, pr.sourceCommit);
  const [ours, theirs, destination, branch] = await Promise.all([
    source.changedFiles(base, pr.sourceCommit),
    source.changedFiles(base, pr.destinationCommit),
    source.readTree(pr.destinationCommit),
    source.readTree(pr.sourceCommit),
  ]);
  const files = new Map(destination);
  for (const path of ours) {
    const text = branch.get(path);
    if (text === undefined) files.delete(path);
    else files.set(path, text);
  }
  return { files, both: ours.filter((p) => theirs.includes(p)) };
}

/** The plan of the merge result, and the comment that shows it (within CodeCommit's 10,240 characters). */
export async function planPullRequest(
  pr: Exclude<PullRequest, { ignore: string }>,
  deps: ReconcileDeps,
): Promise<{ result: ReconcileResult; comment: string }> {
  const { files, both } = await mergeResult(deps.source, pr);
  return planMergeResult(files, deps, {
    revision: pr.sourceCommit,
    title: `${pr.sourceCommit.slice(0, 8)} into ${pr.destinationCommit.slice(0, 8)}`,
    both,
    budget: COMMENT_BUDGET.codecommit,
  });
}

/**
 * Plan a merge result read-only and render its comment: the marker, the digest line, notes (files
 * changed on both sides, diagnostics, failed targets), then the plan within the host's budget.
 */
export async function planMergeResult(
  files: Map<string, string | UnreadableFile>,
  deps: ReconcileDeps,
  options: { revision: string; title: string; both: readonly string[]; budget: number },
): Promise<{ result: ReconcileResult; comment: string }> {
  const merged: SourceRepo = { readTree: async () => files };
  const result = await reconcile(
    { ...deps, source: merged },
    {
      mode: 'plan',
      policy: 'sync',
      revision: options.revision,
      planOptions: { now: Math.floor(Date.now() / 1000) },
    },
  );
  // Notes quote file names and server messages: shown as text only (one line each, no Markdown of
  // their own), under the digest line, so that none passes for the digests a push compares with.
  const notes = [
    ...options.both.map(
      (p) =>
        `> ⚠ ${markdownText(p)} changed on the destination branch too since this branch; this plan takes the branch's version: rebase for an exact plan.`,
    ),
    ...result.diagnostics.map(
      (d) => `> ✖ ${markdownText(`${d.file}:${d.line}:${d.col} ${d.code} ${d.message}`)}`,
    ),
    ...result.failures.map((f) => `> ✖ ${markdownText(`${f.cluster}: ${f.stage} failed: ${f.message}`)}`),
  ];
  const digests = digestLine(result.plans);
  const heading = `${COMMENT_MARKER}\n### dbusers plan of the merge result (${options.title})${digests ? `\n\n${digests}` : ''}${notes.length ? `\n\n${notes.join('\n')}` : ''}`;
  return { result, comment: renderMarkdown(result.plans, { heading, budget: options.budget }) };
}
