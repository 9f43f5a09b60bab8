/**
 * The one orchestrator. Reads top to bottom: load desired → inspect actual → plan → apply policy →
 * dispatch (or "up to date") → publish. Handlers and the CLI only choose the adapters they pass.
 */
import type { BatchResult } from './model/batch.js';
import { loadDesired } from './desired/load.js';
import { describeObject, objectOf } from './model/grants.js';
import { closest } from './model/names.js';
import { accountKey, type DesiredTarget, type Diagnostic, type ObjectRef, type Plan } from './model/types.js';
import { applyPolicy, type PolicyName } from './plan/policy.js';
import { hasChanges, plan, type PlanOptions } from './plan/plan.js';
import type { Dispatcher, EventSink, SourceRepo, UnreadableFile } from './ports/index.js';

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
  /** Asked before anything is dispatched; false cancels. */
  confirm?: (plans: Plan[]) => Promise<boolean>;
  /** Called once per target before it is inspected (progress). */
  onTarget?: (target: DesiredTarget) => void;
}

/** How a run ended. */
export interface ReconcileResult {
  status: 'invalid' | 'in sync' | 'changes' | 'applied' | 'cancelled' | 'failed';
  diagnostics: Diagnostic[];
  files: Map<string, string | UnreadableFile>;
  plans: Plan[];
  results: BatchResult[];
}

/** Run one reconciliation. */
export async function reconcile(deps: ReconcileDeps, options: ReconcileOptions): Promise<ReconcileResult> {
  const files = await deps.source.readTree(options.revision);
  const { targets, diagnostics } = loadDesired(files);
  if (diagnostics.length > 0) {
    await deps.events.publish({
      type: 'Validation Failed',
      detail: { revision: options.revision, diagnostics },
    });
    return { status: 'invalid', diagnostics, files, plans: [], results: [] };
  }

  checkSelection(targets, options);
  const selected = targets.filter((t) => isSelected(t, options.only));
  const planned: { target: DesiredTarget; plan: Plan }[] = [];
  for (const target of selected) {
    options.onTarget?.(target);
    const secretNames = target.accounts.flatMap((a) => (a.secretName ? [a.secretName] : []));
    const actual = await deps.dispatcher.inspect(target.cluster, secretNames, namedObjects(target));
    planned.push({ target, plan: applyPolicy(plan(target, actual, options.planOptions), options.policy) });
  }
  const plans = planned.map((p) => p.plan);
  const changed = planned.filter((p) => hasChanges(p.plan));

  if (options.mode === 'drift') {
    for (const { plan: p } of changed)
      await deps.events.publish({ type: 'Drift Detected', detail: { revision: options.revision, plan: p } });
  }
  const toApply = changed.filter(
    ({ target }) => options.mode === 'apply' || (options.mode === 'drift' && target.cluster.remediateDrift),
  );
  if (toApply.length === 0) {
    await deps.events.publish({ type: 'Plan Computed', detail: { revision: options.revision, plans } });
    return { status: changed.length > 0 ? 'changes' : 'in sync', diagnostics, files, plans, results: [] };
  }
  if (options.confirm && !(await options.confirm(toApply.map((p) => p.plan)))) {
    return { status: 'cancelled', diagnostics, files, plans, results: [] };
  }

  const results: BatchResult[] = [];
  for (const { target, plan: p } of toApply)
    results.push(await deps.dispatcher.dispatch({ target: target.cluster, actions: p.actions }));
  const ok = results.every((r) => r.ok);
  await deps.events.publish({
    type: ok ? 'Apply Succeeded' : 'Apply Failed',
    detail: { revision: options.revision, plans: toApply.map((p) => p.plan), results },
  });
  return { status: ok ? 'applied' : 'failed', diagnostics, files, plans, results };
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
