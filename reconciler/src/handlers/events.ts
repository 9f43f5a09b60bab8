/**
 * The git and schedule triggers: a push to the main branch applies what it changed, a schedule
 * looks for drift. Parsing each documented event is a pure function (table-tested); the handlers
 * only call reconcile() with what the event asks for.
 */
import { AUTOMATION_ENDED } from '../adapters/aws/automation-status.js';
import { loadDesired } from '../desired/load.js';
import type { ReconcileDeps, ReconcileResult } from '../reconcile.js';
import { reconcile } from '../reconcile.js';
import { accountKey, targetName } from '../model/types.js';
import type { PolicyName } from '../plan/policy.js';
import type { ReviewSource } from '../ports/index.js';

/** What a push asks for, or why it is ignored. */
export type PushRequest = { commit: string; before?: string; eventId: string } | { ignore: string };

/**
 * A "CodeCommit Repository State Change" (reference/events-and-infra.md §2.1) on the configured
 * branch: `referenceCreated` (everything) or `referenceUpdated` (what changed since `oldCommitId`).
 * The branch is matched on `referenceFullName` (`referenceName` is short, or full in some fixtures).
 */
export function parsePush(event: unknown, branch = 'main'): PushRequest {
  const e = event as { id?: string; 'detail-type'?: string; detail?: Record<string, unknown> };
  if (e?.['detail-type'] !== 'CodeCommit Repository State Change' || !e.detail)
    return { ignore: 'not a CodeCommit repository state change' };
  const d = e.detail;
  const full = String(
    d.referenceFullName ??
      (String(d.referenceName ?? '').startsWith('refs/') ? d.referenceName : `refs/heads/${d.referenceName}`),
  );
  if (d.referenceType !== 'branch' || full !== `refs/heads/${branch}`)
    return { ignore: `a change of ${full}, not of refs/heads/${branch}` };
  if (d.event !== 'referenceCreated' && d.event !== 'referenceUpdated')
    return { ignore: `${String(d.event)} changes nothing to apply` };
  if (typeof d.commitId !== 'string' || !d.commitId) return { ignore: 'no commitId' };
  const before =
    d.event === 'referenceUpdated' && typeof d.oldCommitId === 'string' ? d.oldCommitId : undefined;
  return { commit: d.commitId, ...(before ? { before } : {}), eventId: String(e.id ?? d.commitId) };
}

/** An EventBridge schedule ("Scheduled Event"), the drift check's trigger. */
export function isSchedule(event: unknown): boolean {
  const e = event as { source?: string; 'detail-type'?: string };
  return e?.source === 'aws.events' && e['detail-type'] === 'Scheduled Event';
}

/**
 * Push: validate the whole tree at the commit, reconcile the targets of the account files it changed.
 * With `reviews`, each plan is compared with the one its merged pull request showed (onDigestMismatch).
 */
export async function handlePush(
  request: Exclude<PushRequest, { ignore: string }>,
  deps: ReconcileDeps & { reviews?: ReviewSource },
  policy: PolicyName = 'sync',
): Promise<ReconcileResult> {
  const files =
    request.before && deps.source.changedFiles
      ? await deps.source.changedFiles(request.before, request.commit)
      : undefined;
  return reconcile(deps, {
    mode: 'apply',
    policy,
    revision: request.commit,
    files,
    eventId: request.eventId,
    review: deps.reviews && (() => deps.reviews!.reviewOf(request.commit)),
    planOptions: { now: Math.floor(Date.now() / 1000) },
  });
}

/** Drift: every target against the branch head; repairs only where an account file asks for it. */
export function handleDrift(
  deps: ReconcileDeps,
  revision?: string,
  eventId?: string,
): Promise<ReconcileResult> {
  return reconcile(deps, {
    mode: 'drift',
    policy: 'sync',
    revision,
    eventId,
    planOptions: { now: Math.floor(Date.now() / 1000) },
  });
}

/** What a failed rotation asks for: reset the user whose secret it is. */
export interface RotationFailedRequest {
  /** The secret's name (an ARN's random suffix taken off). */
  secretName: string;
  /** The AWS account the secret lives in. */
  account: string;
  error: string;
}

/**
 * A `RotationFailed` CloudTrail record as EventBridge delivers it ("AWS Service Event via
 * CloudTrail", reference/aws-formats.md), forwarded from the database account; undefined for anything else.
 */
export function parseRotationFailed(event: unknown): RotationFailedRequest | undefined {
  const e = event as { account?: string; 'detail-type'?: string; detail?: Record<string, unknown> };
  const d = e?.detail;
  if (e?.['detail-type'] !== 'AWS Service Event via CloudTrail' || d?.eventName !== 'RotationFailed')
    return undefined;
  const extra = (d.additionalEventData ?? {}) as { SecretId?: string };
  const id = String(extra.SecretId ?? '');
  if (!id) return undefined;
  const arn = /^arn:[^:]+:secretsmanager:[^:]+:(\d{12}):secret:(.+)-[A-Za-z0-9]{6}$/.exec(id);
  return {
    secretName: arn ? arn[2]! : id,
    account: arn ? arn[1]! : String(d.recipientAccountId ?? e.account ?? ''),
    error: String(d.errorMessage ?? 'rotation failed'),
  };
}

/**
 * A failed rotation: re-plan the target of the declared user whose secret it is, with a reset of that
 * user, and apply it (the reset finishes or redoes what the rotation left half-done).
 */
export async function handleRotationFailed(
  request: RotationFailedRequest,
  deps: ReconcileDeps,
  revision?: string,
): Promise<ReconcileResult> {
  const { targets } = loadDesired(await deps.source.readTree(revision));
  const target = targets.find(
    (t) =>
      t.cluster.account === request.account && t.accounts.some((a) => a.secretName === request.secretName),
  );
  const user = target?.accounts.find((a) => a.secretName === request.secretName);
  if (!target || !user) {
    throw new UnknownSecretError(
      `secret ${request.secretName} of account ${request.account} belongs to no declared user; nothing to reset (${request.error})`,
    );
  }
  return reconcile(deps, {
    mode: 'apply',
    policy: 'sync',
    revision,
    only: [targetName(target.cluster)],
    planOptions: { now: Math.floor(Date.now() / 1000), resetRequested: [accountKey(user)] },
  });
}

/** Raised when a failed rotation names a secret no declared user has. */
export class UnknownSecretError extends Error {
  override name = 'UnknownSecretError';
}

/**
 * An "EC2 Automation Execution Status-change Notification" (SSM's own event on the default bus) of
 * an execution of dbusers' document that has ended: its id, for the results to be collected.
 */
export function parseAutomationEnded(event: unknown, documentName: string): string | undefined {
  const e = event as { source?: string; 'detail-type'?: string; detail?: Record<string, unknown> };
  const d = e?.detail;
  if (e?.source !== 'aws.ssm' || e['detail-type'] !== 'EC2 Automation Execution Status-change Notification')
    return undefined;
  if (
    d?.Definition !== documentName.split('/').pop() ||
    !(AUTOMATION_ENDED as readonly string[]).includes(String(d?.Status))
  )
    return undefined;
  return typeof d?.ExecutionId === 'string' && d.ExecutionId ? d.ExecutionId : undefined;
}
