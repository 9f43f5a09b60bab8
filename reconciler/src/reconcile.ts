/**
 * The one orchestrator. Reads top to bottom: load desired → inspect actual → plan → apply policy →
 * dispatch (or "up to date") → publish. Handlers and the CLI only choose the adapters they pass.
 */
import type { BatchResult } from './model/batch.js';
import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import { loadDesired } from './desired/load.js';
import { reviewDigest, runKey } from './model/run.js';
import { describeObject, objectOf } from './model/grants.js';
import { closest } from './model/names.js';
import {
  accountKey,
  targetName,
  type DesiredTarget,
  type Diagnostic,
  type ObjectRef,
  type Plan,
} from './model/types.js';
import { applyPolicy, type PolicyName } from './plan/policy.js';
import { hasChanges, plan, type PlanOptions } from './plan/plan.js';
import type { Dispatcher, EventSink, Review, SourceRepo, UnreadableFile } from './ports/index.js';

/** The adapters a run uses. */
export interface ReconcileDeps {
  source: SourceRepo;
  dispatcher: Dispatcher;
  events: EventSink;
}

/** What a run does. */
export interface ReconcileOptions {
  /** plan: read only; apply: dispatch the plans; drift: read only, report drift (apply where the YAML asks). */
  mode: 'plan' | 'apply' | 'drift';
  policy: PolicyName;
  planOptions: PlanOptions;
  revision?: string;
  /** Only these clusters (`cluster` or `alias/cluster`); all when empty. */
  only?: readonly string[];
  /** Only the clusters of these account files (`users/<alias>.yaml`): a push reconciles what it changed. */
  files?: readonly string[];
  /**
   * The triggering event (EventBridge's id): part of each batch's idempotency key, so a redelivered
   * event is answered from the executor's record while a new one (the next drift check) acts again.
   * Default: a fresh id, so every run of the CLI is its own.
   */
  eventId?: string;
  /** Targets read or applied at once (default: the dispatcher's, else DEFAULT_CONCURRENCY); each target stays one batch at a time. */
  concurrency?: number;
  /**
   * The plan reviewers saw for this commit (a push: its merged pull request's comment), undefined
   * when none is found; asked only when there is something to apply. Each target's plan is compared
   * with it before dispatch (see `onDigestMismatch`). Nothing is compared without it (the CLI, drift).
   */
  review?: () => Promise<Review | undefined>;
  /** Asked before anything is dispatched; false cancels. */
  confirm?: (plans: Plan[]) => Promise<boolean>;
  /** Called once per target before it is inspected (progress). */
  onTarget?: (target: DesiredTarget) => void;
}

/** How a run ended. */
export interface ReconcileResult {
  /** dispatched: started, with results to come from the automations' status-change events. */
  status: 'invalid' | 'in sync' | 'changes' | 'applied' | 'dispatched' | 'cancelled' | 'failed';
  diagnostics: Diagnostic[];
  files: Map<string, string | UnreadableFile>;
  plans: Plan[];
  results: BatchResult[];
  /** Targets that could not be read or applied; the others went on. */
  failures: TargetFailure[];
  /** Targets whose plan differed from the reviewed one, and what was done about it. */
  mismatches: DigestMismatch[];
}

/** A plan that is not the one reviewers saw. */
export interface DigestMismatch {
  cluster: string;
  /** What the pull request's comment showed; absent when it showed nothing for this target. */
  shown?: string;
  applied: string;
  pullRequest?: string;
  decision: 'applied' | 'refused';
}

/** One target the run could not finish, and where it stopped. */
export interface TargetFailure {
  cluster: string;
  stage: 'inspect' | 'review' | 'apply';
  message: string;
}

/**
 * Run one reconciliation. One target that cannot be read or applied (an unreachable server, a
 * failed automation) is reported and never stops the others.
 */
export async function reconcile(deps: ReconcileDeps, options: ReconcileOptions): Promise<ReconcileResult> {
  const files = await deps.source.readTree(options.revision);
  const { targets, diagnostics } = loadDesired(files, deps.source.folder);
  const failures: TargetFailure[] = [];
  const mismatches: DigestMismatch[] = [];
  const end = (
    status: ReconcileResult['status'],
    plans: Plan[] = [],
    results: BatchResult[] = [],
  ): ReconcileResult => ({
    status: failures.length > 0 && status !== 'cancelled' ? 'failed' : status,
    diagnostics,
    files,
    plans,
    results,
    failures,
    mismatches,
  });
  if (diagnostics.length > 0) {
    await deps.events.publish({
      type: 'Validation Failed',
      detail: { revision: options.revision, diagnostics },
    });
    return end('invalid');
  }
  checkSelection(targets, options);
  const planned: { target: DesiredTarget; plan: Plan }[] = [];
  const inFiles = (t: DesiredTarget) =>
    !options.files || options.files.some((f) => basename(f).replace(/\.ya?ml$/, '') === t.cluster.alias);
  const selected = targets.filter((t) => isSelected(t, options.only) && inFiles(t));
  const limit = options.concurrency ?? deps.dispatcher.concurrency ?? DEFAULT_CONCURRENCY;
  const inspected: ({ target: DesiredTarget; plan: Plan } | undefined)[] = new Array(selected.length);
  await bounded(selected, limit, async (target, i) => {
    options.onTarget?.(target);
    await attempt(target, 'inspect', failures, async () => {
      const secretNames = target.accounts.flatMap((a) => (a.secretName ? [a.secretName] : []));
      const actual = await deps.dispatcher.inspect(target.cluster, secretNames, namedObjects(target));
      inspected[i] = { target, plan: applyPolicy(plan(target, actual, options.planOptions), options.policy) };
    });
  });
  // In the order of the files, whatever order the servers answered in.
  planned.push(...inspected.filter((p) => p !== undefined));
  const plans = planned.map((p) => p.plan);
  const changed = planned.filter((p) => hasChanges(p.plan));
  if (options.mode === 'drift') await publishDrift(deps.events, options.revision, plans, failures);
  const candidates = changed.filter(
    ({ target }) => options.mode === 'apply' || (options.mode === 'drift' && target.cluster.remediateDrift),
  );
  const reviewed = options.review && candidates.length > 0 ? ((await options.review()) ?? 'none') : undefined;
  const toApply = candidates.filter(({ target, plan: p }) => {
    const mismatch = reviewed && compareWithReview(target, p, reviewed);
    if (!mismatch) return true;
    mismatches.push(mismatch);
    if (mismatch.decision === 'applied') return true;
    const pr = mismatch.pullRequest ? ` (pull request ${mismatch.pullRequest})` : '';
    const why = mismatch.shown
      ? `plan ${mismatch.applied} is not the reviewed ${mismatch.shown}${pr}`
      : `plan ${mismatch.applied} was never shown for review${pr}`;
    const message = `${why}; onDigestMismatch: refuse, so nothing was applied: review the plan again`;
    failures.push({ cluster: mismatch.cluster, stage: 'review', message });
    return false;
  });
  if (toApply.length === 0) {
    await deps.events.publish({
      type: 'Plan Computed',
      detail: { revision: options.revision, plans, failures, mismatches },
    });
    return end(changed.length > 0 ? 'changes' : 'in sync', plans);
  }
  if (options.confirm && !(await options.confirm(toApply.map((p) => p.plan)))) return end('cancelled', plans);
  const eventId = options.eventId ?? randomUUID();
  const dispatched: (BatchResult | undefined)[] = new Array(toApply.length);
  await bounded(toApply, limit, async ({ target, plan: p }, i) => {
    const id = runKey(options.revision ?? '', target, p, eventId);
    await attempt(target, 'apply', failures, async () => {
      dispatched[i] = await deps.dispatcher.dispatch({ id, target: target.cluster, actions: p.actions });
    });
  });
  const results = dispatched.filter((r) => r !== undefined);
  const ok = failures.length === 0 && results.every((r) => r.ok);
  const detail = {
    revision: options.revision,
    plans: toApply.map((p) => p.plan),
    results,
    failures,
    mismatches,
  };
  // Results that come later (status-change events) are published by the collection then.
  const started = results.some((r) => r.started?.length);
  await deps.events.publish({
    type: !ok ? 'Apply Failed' : started ? 'Apply Started' : 'Apply Succeeded',
    detail,
  });
  return end(!ok ? 'failed' : started ? 'dispatched' : 'applied', plans, results);
}

/** The mismatch of a target's plan with the reviewed one, decided by its `onDigestMismatch`; none when they agree. */
function compareWithReview(
  target: DesiredTarget,
  p: Plan,
  reviewed: Review | 'none',
): DigestMismatch | undefined {
  const applied = reviewDigest(p);
  const shown = reviewed === 'none' ? undefined : reviewed.digests[targetName(p)];
  if (shown === applied) return undefined;
  return {
    cluster: targetName(p),
    ...(shown ? { shown } : {}),
    applied,
    ...(reviewed === 'none' ? {} : { pullRequest: reviewed.pullRequest }),
    decision: target.cluster.onDigestMismatch === 'refuse' ? 'refused' : 'applied',
  };
}

/**
 * The drift check's events: "Drift Detected" per drifted target, with how many accounts drifted, and
 * a heartbeat when every target read is in sync, so silence never means a broken check.
 */
async function publishDrift(
  events: EventSink,
  revision: string | undefined,
  plans: readonly Plan[],
  failures: readonly TargetFailure[],
): Promise<void> {
  const checkedAt = new Date().toISOString();
  const drifted = plans.filter(hasChanges);
  for (const p of drifted) {
    await events.publish({
      type: 'Drift Detected',
      detail: { revision, cluster: targetName(p), driftedAccounts: driftedAccounts(p), checkedAt, plan: p },
    });
  }
  if (drifted.length === 0 && failures.length === 0) {
    await events.publish({
      type: 'Drift Check Passed',
      detail: { revision, checkedAt, clusters: plans.map(targetName) },
    });
  }
}

/** How many accounts a plan changes (user@host counted once, whatever it does to them). */
export function driftedAccounts(plan: Plan): number {
  return new Set(plan.actions.map(accountKey)).size;
}

/** Targets read or applied at once, unless the dispatcher or the run says otherwise. */
export const DEFAULT_CONCURRENCY = 8;

/** `work` on every item, at most `limit` at a time. */
async function bounded<T>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await work(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Run one target's stage; an error becomes its failure, and the run goes on. */
async function attempt(
  target: DesiredTarget,
  stage: TargetFailure['stage'],
  failures: TargetFailure[],
  work: () => Promise<void>,
): Promise<void> {
  try {
    await work();
  } catch (error) {
    failures.push({
      cluster: `${target.cluster.alias}/${target.cluster.name}`,
      stage,
      message: (error as Error).message,
    });
  }
}

/** Every table and routine the declarations of a target name, once each. */
function namedObjects(target: DesiredTarget): ObjectRef[] {
  const byName = new Map<string, ObjectRef>();
  for (const a of target.accounts)
    for (const g of a.grants) {
      const o = objectOf(g);
      if (o) byName.set(describeObject(o), o);
    }
  return [...byName.values()];
}

/** Raised when a selection names nothing declared: a typo must not pass as "nothing to do". */
export class SelectionError extends Error {
  override name = 'SelectionError';
}

/** Every `--cluster` names a declared cluster, every requested reset a declared password user. */
function checkSelection(targets: readonly DesiredTarget[], options: ReconcileOptions): void {
  const names = targets.flatMap((t) => [t.cluster.name, `${t.cluster.alias}/${t.cluster.name}`]);
  for (const only of options.only ?? []) {
    if (names.includes(only)) continue;
    const guess = closest(only, names);
    throw new SelectionError(
      `--cluster ${only}: no such cluster${guess ? `; did you mean ${guess}?` : ''} (declared: ${targets.map((t) => `${t.cluster.alias}/${t.cluster.name}`).join(', ')})`,
    );
  }
  const users = targets
    .filter((t) => isSelected(t, options.only))
    .flatMap((t) => t.accounts.filter((a) => a.auth === 'password').map(accountKey));
  for (const reset of options.planOptions.resetRequested ?? []) {
    if (users.includes(reset)) continue;
    const guess = closest(reset, users);
    throw new SelectionError(
      `--reset ${reset}: no declared password user is named so${guess ? `; did you mean ${guess}?` : ''} (write user@host)`,
    );
  }
}

function isSelected(t: DesiredTarget, only: readonly string[] | undefined): boolean {
  if (!only || only.length === 0) return true;
  return only.includes(t.cluster.name) || only.includes(`${t.cluster.alias}/${t.cluster.name}`);
}
