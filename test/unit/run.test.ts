import { describe, expect, it } from 'vitest';
import { digestLine, reviewDigest, runKey, shownDigests } from '../../reconciler/src/model/run.js';
import type { Plan } from '../../reconciler/src/model/types.js';
import { aliceReadonly, target } from '../support/fixtures.js';

const plan = (n: number): Plan => ({
  cluster: 'orders',
  account: '111122223333',
  alias: 'payments-prod',
  skipped: [],
  exceptions: [],
  iamConnect: [],
  actions: Array.from({ length: n }, (_, i) => ({
    kind: 'delete_user' as const,
    user: `u${i}`,
    host: '%',
    reason: 'not declared',
  })),
});

describe('runKey', () => {
  const t = target(aliceReadonly);

  it('is the same for the same event delivered twice, so the executor answers it from its record', () => {
    expect(runKey('c0ffee', t, plan(2), 'event-1')).toBe(runKey('c0ffee', t, plan(2), 'event-1'));
  });

  it('differs for another event at the same commit with the same plan: a drift that comes back is repaired again', () => {
    expect(runKey('c0ffee', t, plan(2), 'event-2')).not.toBe(runKey('c0ffee', t, plan(2), 'event-1'));
  });

  it('differs for another commit, target or plan', () => {
    const key = runKey('c0ffee', t, plan(2), 'e');
    expect(runKey('decaf', t, plan(2), 'e')).not.toBe(key);
    expect(runKey('c0ffee', { ...t, cluster: { ...t.cluster, region: 'us-east-1' } }, plan(2), 'e')).not.toBe(
      key,
    );
    expect(runKey('c0ffee', t, plan(3), 'e')).not.toBe(key);
  });
});

describe('the digests a plan comment shows', () => {
  it('reads back what it wrote, per target, whatever else the comment holds', () => {
    const other = { ...plan(1), alias: 'shop-staging', cluster: 'catalog' };
    const comment = `<!-- dbusers:plan v1 -->\n### plan\n\n${digestLine([plan(2), other])}\n\n| a | b |\n`;
    expect(shownDigests(comment)).toEqual({
      'payments-prod/orders': reviewDigest(plan(2)),
      'shop-staging/catalog': reviewDigest(other),
    });
  });

  it('differ when the plan does, and find nothing in a comment without a digest line', () => {
    expect(reviewDigest(plan(2))).not.toBe(reviewDigest(plan(3)));
    expect(reviewDigest(plan(2))).toMatch(/^[0-9a-f]{12}$/);
    expect(shownDigests('Digests are great: `a/b` 0123')).toEqual({});
    expect(digestLine([])).toBe('');
  });
});
