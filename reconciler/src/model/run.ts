/** The identity of a run's work, computed once by reconcile() and handed to the adapters. */
import { createHash } from 'node:crypto';
import { type Action, type DesiredTarget, type Plan, targetName } from './types.js';

/**
 * A batch's idempotency key, owned by the run: UUID-shaped from the commit, the target, the plan's
 * digest and the event. The same event delivered twice gets the same key; anything else a new one.
 */
export function runKey(revision: string, target: DesiredTarget, p: Plan, eventId: string): string {
  const { account, region, name } = target.cluster;
  return uuidFrom(`${revision}\0${account}/${region}/${name}\0${planDigest(p.actions)}\0${eventId}`);
}

/** The digest of what a plan does: its actions, which never hold a password. */
export function planDigest(actions: readonly Action[]): string {
  return createHash('sha256').update(JSON.stringify(actions)).digest('hex');
}

/** The short digest a pull request's comment shows per target, and a push compares with. */
export function reviewDigest(plan: Plan): string {
  return planDigest(plan.actions).slice(0, 12);
}

/** The comment's digest line: `Digests: \`alias/cluster\` 0123456789ab · …`. */
export function digestLine(plans: readonly Plan[]): string {
  return plans.length
    ? `Digests: ${plans.map((p) => `\`${targetName(p)}\` ${reviewDigest(p)}`).join(' · ')}`
    : '';
}

/** The digests a comment's digest line shows, per target: what the reviewers saw. */
export function shownDigests(comment: string): Record<string, string> {
  const line = comment.split('\n').find((l) => l.startsWith('Digests: ')) ?? '';
  return Object.fromEntries([...line.matchAll(/`([^`]+)` ([0-9a-f]{12})/g)].map((m) => [m[1]!, m[2]!]));
}

/** A deterministic, UUID-shaped (version 5 layout) id from text: SSM wants its ClientToken so. */
export function uuidFrom(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
