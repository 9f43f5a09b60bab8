/** The identity of a run's work, computed once by reconcile() and handed to the adapters. */
import { createHash } from 'node:crypto';
import type { DesiredTarget, Plan } from './types.js';

/**
 * A batch's idempotency key, owned by the run: UUID-shaped from the commit, the target, the plan's
 * digest and the event. The same event delivered twice gets the same key; anything else a new one.
 */
export function runKey(revision: string, target: DesiredTarget, p: Plan, eventId: string): string {
  const { account, region, name } = target.cluster;
  const digest = createHash('sha256').update(JSON.stringify(p.actions)).digest('hex');
  return uuidFrom(`${revision}\0${account}/${region}/${name}\0${digest}\0${eventId}`);
}

/** A deterministic, UUID-shaped (version 5 layout) id from text: SSM wants its ClientToken so. */
export function uuidFrom(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
