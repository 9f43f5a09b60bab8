import { describe, expect, it } from 'vitest';
import { runKey } from '../../reconciler/src/model/run.js';
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
