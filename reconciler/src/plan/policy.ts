/** Policies: small pure filters over a plan, chosen by name (as external-dns does). */
import type { Action, Plan } from '../model/types.js';

export const POLICY_NAMES = ['sync', 'upsert-only', 'create-only'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

function keepOnly(plan: Plan, keep: (a: Action) => boolean, policy: PolicyName): Plan {
  const dropped = plan.actions.filter((a) => !keep(a));
  return {
    ...plan,
    actions: plan.actions.filter(keep),
    skipped: [
      ...plan.skipped,
      ...dropped.map((a) => ({
        user: a.user,
        host: a.host,
        reason: 'filtered by policy' as const,
        detail: `${policy} does not ${a.kind.replace('_', ' ')}`,
      })),
    ],
  };
}

/** The policies by name. */
export const policies: Record<PolicyName, (plan: Plan) => Plan> = {
  /** Everything the plan says: create, update, reset, delete. */
  sync: (plan) => plan,
  /** Create and update, never delete. */
  'upsert-only': (plan) =>
    keepOnly(plan, (a) => a.kind !== 'delete_user' && a.kind !== 'drop_role', 'upsert-only'),
  /** Create what is missing, change nothing that exists. */
  'create-only': (plan) =>
    keepOnly(plan, (a) => a.kind === 'create_user' || a.kind === 'create_role', 'create-only'),
};

/** Apply the named policy. */
export function applyPolicy(plan: Plan, name: PolicyName): Plan {
  return policies[name](plan);
}
