/**
 * What the CLI prints, apart from the plan itself (plan/render.ts): the end of a run, refusals,
 * progress during an apply, the question before it. Machine output (--json) goes alone to stdout;
 * progress, questions and logs go to stderr.
 */
import { createInterface } from 'node:readline/promises';
import pc from 'picocolors';
import { formatDiagnostic } from '../desired/load.js';
import type { ActionResult } from '../model/batch.js';
import {
  displayAccount,
  REFUSAL_REASONS,
  type Plan,
  type Skipped,
  targetName,
  visible,
} from '../model/types.js';
import {
  PLAIN,
  renderMarkdown,
  renderText,
  summariseDone,
  COMMENT_BUDGET,
  type Paint,
} from '../plan/render.js';
import type { ReconcileResult } from '../reconcile.js';

/** Where the CLI writes, and whether a person is watching (colours, progress on one line, questions). */
export interface IO {
  out(s: string): void;
  err(s: string): void;
  /** stdout is a terminal: colours (unless NO_COLOR). */
  color?: boolean;
  /** stderr is a terminal: progress redraws one line. */
  interactive?: boolean;
}

/** Output choices of plan, apply and drift. */
export interface OutputOptions {
  json?: boolean;
  markdown?: boolean | 'codecommit' | 'github';
  yes?: boolean;
}

/** picocolors where the terminal shows colours, plain text otherwise. */
export function paintFor(io: IO): Paint {
  if (!io.color || process.env.NO_COLOR) return PLAIN;
  const c = pc.createColors(true);
  return { add: c.green, change: c.yellow, remove: c.red, warn: c.magenta, bold: c.bold };
}

/** Skips that fail the run, and what to do about each. */
const HOW_TO_PROCEED: Partial<Record<Skipped['reason'], string>> = {
  'over delete limit': 'run again with --allow-deletes if these deletes are meant',
  'missing object': 'create the tables and routines first, or drop the grants that name them',
  'missing privilege':
    'declare the engineVersion the server runs, upgrade it, or drop the grants that name the privilege',
  'secret name':
    "keep each account's secret name as it is (secretName:, or the template); to move an account to another secret, remove it in one change and declare it again in the next",
  'privilege policy': 'list the privileges under privilegeExceptions: with a reason, once reviewed',
  unsupported:
    'declare the account as it can be managed (the line above says what dbusers cannot do), or change the account by hand',
};

/** One block per kind of refusal: the count, one example, the first accounts, and how to proceed. */
export function refusals(plans: readonly Plan[]): string | undefined {
  const blocks: string[] = [];
  for (const reason of REFUSAL_REASONS) {
    const hits = plans.flatMap((p) =>
      p.skipped.filter((s) => s.reason === reason).map((s) => ({ ...s, cluster: targetName(p) })),
    );
    if (hits.length === 0) continue;
    const names = hits
      .slice(0, 5)
      .map((h) => `${displayAccount(h)} (${h.cluster})`)
      .join(', ');
    const more = hits.length > 5 ? ` and ${hits.length - 5} more` : '';
    blocks.push(
      `  ${reason}: ${hits.length} account(s): ${names}${more}\n    ${hits[0]!.detail}\n    to proceed: ${HOW_TO_PROCEED[reason]}`,
    );
  }
  return blocks.length
    ? `dbusers: refused; these accounts were not changed:\n${blocks.join('\n')}\n`
    : undefined;
}

/** Show the plan (to stderr when stdout is for JSON), then ask; only "yes" applies. */
export async function confirm(plans: Plan[], io: IO, options: OutputOptions): Promise<boolean> {
  (options.json ? io.err : io.out)(renderText(plans, paintFor(io)) + '\n\n');
  if (options.yes) return true;
  if (!process.stdin.isTTY) {
    io.err('dbusers: apply asks before changing anything; pass --yes when no one is at a terminal\n');
    return false;
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await rl.question("Apply these changes? Only 'yes' is accepted: ");
  rl.close();
  return answer.trim() === 'yes';
}

/**
 * Progress of an apply on stderr: on a terminal one line redrawn with N/M, rate and ETA; elsewhere
 * (CI) one line per action.
 */
export class Progress {
  done = 0;
  total = 0;
  private started = Date.now();

  constructor(private readonly io: IO) {}

  start(total: number): void {
    this.total = total;
    this.started = Date.now();
  }

  tick(r: ActionResult): void {
    this.done++;
    // The server's messages may quote names made by hand: shown as text, never as escapes.
    const what = visible(
      `${r.status === 'ok' ? 'done' : r.status}: ${r.kind} ${displayAccount(r)}${r.status === 'ok' ? '' : ` (${r.message})`}${r.warnings ? ` [${r.warnings.join('; ')}]` : ''}`,
    );
    const count = `[${this.done}/${this.total}]`;
    if (!this.io.interactive || r.status !== 'ok') {
      this.io.err(`${this.io.interactive ? '\r\x1b[2K' : ''}  ${count} ${what}\n`);
      return;
    }
    const seconds = (Date.now() - this.started) / 1000;
    const rate = this.done / Math.max(seconds, 0.001);
    const eta = Math.ceil((this.total - this.done) / Math.max(rate, 0.001));
    this.io.err(
      `\r\x1b[2K  ${count} ${rate.toFixed(1)}/s, about ${eta} s left; ${what}${this.done === this.total ? '\n' : ''}`,
    );
  }

  /** What a person who pressed Ctrl-C needs to know. */
  interrupted(): string {
    return (
      `\ndbusers: interrupted after ${this.done} of ${this.total} action(s). Each action is whole or not begun, ` +
      'and the cluster lock is released with the connection: run the same apply again and it finishes the rest.\n'
    );
  }
}

/** Name each file of the folder that was not read: a `.yalm` typo is never skipped silently. */
export function warnIgnored(source: { ignored: readonly string[] }, io: IO): void {
  for (const f of source.ignored)
    io.err(`dbusers: warning: ${f} is not read: account files end in .yaml or .yml\n`);
}

/** Map a run to its output and exit code: 0 done or in sync, 2 changes (plan, drift), 1 invalid, refused or failed. */
export function report(command: string, result: ReconcileResult, options: OutputOptions, io: IO): number {
  if (result.status === 'invalid') {
    for (const d of result.diagnostics) io.err(formatDiagnostic(d, result.files.get(d.file)) + '\n');
    io.err(`${result.diagnostics.length} problem(s); nothing was applied.\n`);
    return 1;
  }
  const paint = paintFor(io);
  for (const f of result.failures)
    io.err(`${visible(`dbusers: ${f.cluster}: ${f.stage} failed: ${f.message}`)}\n`);
  // Nothing to show when no target could be read: never a plan that looks complete.
  if (result.plans.length === 0 && result.failures.length > 0 && !options.json) return 1;
  if (options.json)
    io.out(
      JSON.stringify(
        { status: result.status, plans: result.plans, results: result.results, failures: result.failures },
        null,
        2,
      ) + '\n',
    );
  else if (options.markdown)
    io.out(
      renderMarkdown(result.plans, {
        budget: COMMENT_BUDGET[options.markdown === 'codecommit' ? 'codecommit' : 'github'],
      }) + '\n',
    );
  else if (command !== 'apply' || result.status === 'in sync') io.out(renderText(result.plans, paint) + '\n');
  const refused = refusals(result.plans);
  if (refused) {
    io.err(refused);
    return 1;
  }
  const say = (line: string) => (options.json || options.markdown ? io.err : io.out)(line);
  switch (result.status) {
    case 'in sync':
      if (command === 'apply') say('Nothing to apply: the servers match the YAML.\n');
      return 0;
    case 'changes':
      return command === 'apply' ? 0 : 2;
    case 'cancelled':
      io.err('Apply cancelled; nothing was changed.\n');
      return 1;
    case 'applied': {
      const s = summariseDone(result.results);
      say(
        paint.bold(`Apply complete: ${s.create} created, ${s.change} changed, ${s.delete} deleted.`) + '\n',
      );
      return command === 'drift' ? 2 : 0;
    }
    case 'dispatched': {
      const executions = result.results.flatMap((r) => r.started ?? []);
      say(
        `Apply started: ${executions.length} automation(s) (${executions.join(', ')}); results arrive as events.\n`,
      );
      return command === 'drift' ? 2 : 0;
    }
    case 'failed': {
      if (command !== 'apply' && result.results.length === 0) return 1; // a target failed; the others are shown
      const failed = result.results.flatMap((r) => r.results.filter((x) => x.status !== 'ok'));
      io.err(
        `Apply failed: ${failed.length} action(s) did not complete:\n${failed.map((f) => visible(`  ${f.status}: ${f.message}`)).join('\n')}\n`,
      );
      return 1;
    }
  }
}
