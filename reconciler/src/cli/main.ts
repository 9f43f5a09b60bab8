/**
 * `dbusers`: validate, plan, apply, drift and import in local mode. The CLI only chooses adapters
 * (the users/ folder, the local secret store, the in-process executor) and hands them to reconcile().
 *
 * Exit codes: 0 success / no changes, 2 changes (plan, drift), 1 error or invalid input.
 */
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { LocalDispatcher, LocalEnvironment, localExecutorDeps } from '../adapters/local/local-dispatcher.js';
import { FolderSource } from '../adapters/local/folder-source.js';
import { formatDiagnostic, loadDesired } from '../desired/load.js';
import { importYaml } from '../desired/import.js';
import { ExecutorFailedError, makeExecutorHandler, type ExecutorEvent } from '../handlers/executor.js';
import { REFUSAL_REASONS, type Plan, type Skipped } from '../model/types.js';
import { POLICY_NAMES, type PolicyName } from '../plan/policy.js';
import { renderMarkdown, renderText, summariseDone } from '../plan/render.js';
import type { Dispatcher, EventSink } from '../ports/index.js';
import { reconcile, type ReconcileResult } from '../reconcile.js';

const USAGE = `dbusers: GitOps for MySQL / Aurora MySQL / MariaDB users

Usage:
  dbusers validate [DIR]            check every YAML file (exit 0 valid, 1 invalid)
  dbusers plan [DIR]                show what apply would do (exit 0 no changes, 2 changes, 1 error)
  dbusers apply [DIR]               make the servers match the YAML (asks first, or --yes)
  dbusers drift [DIR]               report drift only (exit 0 in sync, 2 drift, 1 error)
  dbusers import [DIR] --cluster C  print YAML declaring the existing accounts of cluster C
  dbusers event FILE.json [DIR]     run the executor Lambda's handler on a payload (seed, batch, pieces,
                                    inspect) with the local adapters; the clusters in DIR are its
                                    configuration (a seed payload goes to --cluster C, or to the cluster
                                    whose master secret it names). Exit 0 done, 1 failed or refused

DIR defaults to ./users. Options:
  --json | --markdown               plan output as JSON data or as a pull-request comment
  --policy sync|upsert-only|create-only   which changes are allowed (default sync)
  --cluster NAME                    only this cluster (repeatable; NAME or alias/NAME)
  --allow-deletes                   allow a plan over the delete limit
  --reset USER@HOST                 reset this user's password (repeatable)
  --create-missing                  create declared databases and the tables grants name (test servers)
  --yes                             apply without asking
  --events                          print result events as JSON lines on stdout

Environment (local mode):
  DBUSERS_DATABASE_URL   mysql://user:password@host:port used for every cluster
  DBUSERS_STATE_DIR      state folder: local secrets and the embedded MariaDB (default .dbusers)
Environment (AWS mode, with AWS credentials of the central account):
  DBUSERS_SSM_DOCUMENT   name or ARN of the dbusers automation document: turns AWS mode on
  DBUSERS_EXECUTOR_FUNCTION   executor Lambda name in every database account (default dbusers-executor)
  DBUSERS_EXECUTION_ROLE      role assumed in database accounts (default AssumableRoleInDatabaseAccount)
  DBUSERS_AUTOMATION_ROLE_ARN AutomationAssumeRole for the parent execution (optional)
  DBUSERS_REVISION            the commit applied: part of each execution's idempotency key
`;

/** Writes events as JSON lines: to stdout with --events, else to <state>/events.jsonl. */
class JsonLinesSink implements EventSink {
  constructor(private readonly write: (line: string) => void) {}
  async publish(event: { type: string; detail: Record<string, unknown> }): Promise<void> {
    this.write(JSON.stringify({ time: new Date().toISOString(), source: 'dbusers', 'detail-type': event.type, detail: event.detail }) + '\n');
  }
}

/** Run the CLI; returns the exit code. */
export async function main(argv: string[], io: IO = { out: (s) => void process.stdout.write(s), err: (s) => void process.stderr.write(s) }): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (error) {
    io.err(`dbusers: ${(error as Error).message}\n\n${USAGE}`);
    return 1;
  }
  const { values, positionals } = args;
  const [command] = positionals;
  const dirArg = command === 'event' ? positionals[2] : positionals[1];
  if (values.help || !command) {
    io.out(USAGE);
    return command || values.help ? 0 : 1;
  }
  const dir = resolve(dirArg ?? 'users');
  const policy = values.policy as PolicyName;
  if (!POLICY_NAMES.includes(policy)) {
    io.err(`dbusers: --policy ${JSON.stringify(policy)} is not a policy; use one of ${POLICY_NAMES.join(', ')}\n`);
    return 1;
  }
  const source = new FolderSource(dir);

  if (command === 'validate') {
    const files = await source.readTree();
    const { diagnostics } = loadDesired(files);
    for (const f of source.ignored) io.err(`dbusers: warning: ${f} is not read: account files end in .yaml or .yml\n`);
    for (const d of diagnostics) io.err(formatDiagnostic(d, files.get(d.file)) + '\n');
    if (diagnostics.length > 0) {
      io.err(`${diagnostics.length} problem(s) in ${new Set(diagnostics.map((d) => d.file)).size} file(s); nothing was applied.\n`);
      return 1;
    }
    io.out(`${files.size} file(s) valid.\n`);
    return 0;
  }
  if (!['plan', 'apply', 'drift', 'import', 'event'].includes(command)) {
    io.err(`dbusers: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    return 1;
  }

  const stateDir = resolve(process.env.DBUSERS_STATE_DIR || '.dbusers');
  mkdirSync(stateDir, { recursive: true });
  const env = new LocalEnvironment({
    stateDir,
    databaseUrl: process.env.DBUSERS_DATABASE_URL || undefined,
    createMissing: values['create-missing'],
    log: (line) => io.err(`dbusers: ${line}\n`),
  });
  const stop = () => void env.close().finally(() => process.exit(130));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    if (command === 'import') return await runImport(source, env, values.cluster, io);
    if (command === 'event') return await runEvent(positionals[1], source, env, values.cluster?.[0], io);
    const events = new JsonLinesSink(values.events ? io.out : (line) => appendFileSync(join(stateDir, 'events.jsonl'), line));
    const result = await reconcile(
      { source, dispatcher: await chooseDispatcher(env, io), events },
      {
        mode: command === 'apply' ? 'apply' : command === 'drift' ? 'drift' : 'plan',
        revision: process.env.DBUSERS_REVISION || undefined,
        policy,
        only: values.cluster,
        planOptions: { now: Math.floor(Date.now() / 1000), allowDeletes: values['allow-deletes'], resetRequested: values.reset },
        confirm: (plans) => confirm(plans, io, values.yes),
      },
    );
    return report(command, result, values, io);
  } catch (error) {
    io.err(`dbusers: ${(error as Error).message}\n`);
    return 1;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await env.close();
  }
}

/**
 * Local mode unless AWS mode is configured: with DBUSERS_SSM_DOCUMENT set, changes go through the
 * SSM automation in each database account and state is read through its executor Lambda.
 */
async function chooseDispatcher(env: LocalEnvironment, io: IO): Promise<Dispatcher> {
  const document = process.env.DBUSERS_SSM_DOCUMENT;
  if (!document) return new LocalDispatcher(env, {}, (line) => io.err(`  ${line}\n`));
  // Loaded only in AWS mode, so local runs do not pay for the SDK.
  const [{ SSMClient }, { SsmDispatcher }] = await Promise.all([import('@aws-sdk/client-ssm'), import('../adapters/aws/ssm-dispatcher.js')]);
  io.err(`dbusers: AWS mode: automation ${document}, executor ${process.env.DBUSERS_EXECUTOR_FUNCTION ?? 'dbusers-executor'}\n`);
  return new SsmDispatcher({
    ssm: new SSMClient({}),
    documentName: document,
    lambdaFunctionName: process.env.DBUSERS_EXECUTOR_FUNCTION ?? 'dbusers-executor',
    executionRoleName: process.env.DBUSERS_EXECUTION_ROLE || undefined,
    automationAssumeRole: process.env.DBUSERS_AUTOMATION_ROLE_ARN || undefined,
    revision: process.env.DBUSERS_REVISION || `cli-${new Date().toISOString()}`,
  });
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      markdown: { type: 'boolean', default: false },
      policy: { type: 'string', default: 'sync' },
      cluster: { type: 'string', multiple: true },
      'allow-deletes': { type: 'boolean', default: false },
      reset: { type: 'string', multiple: true },
      'create-missing': { type: 'boolean', default: false },
      yes: { type: 'boolean', short: 'y', default: false },
      events: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

type Values = ReturnType<typeof parse>['values'];
type IO = { out: (s: string) => void; err: (s: string) => void };

async function confirm(plans: Plan[], io: IO, yes: boolean): Promise<boolean> {
  io.out(renderText(plans) + '\n\n');
  if (yes) return true;
  if (!process.stdin.isTTY) {
    io.err('dbusers: apply asks before changing anything; pass --yes when no one is at a terminal\n');
    return false;
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await rl.question("Apply these changes? Only 'yes' is accepted: ");
  rl.close();
  return answer.trim() === 'yes';
}

function report(command: string, result: ReconcileResult, values: Values, io: IO): number {
  if (result.status === 'invalid') {
    for (const d of result.diagnostics) io.err(formatDiagnostic(d, result.files.get(d.file)) + '\n');
    io.err(`${result.diagnostics.length} problem(s); nothing was applied.\n`);
    return 1;
  }
  if (values.json) io.out(JSON.stringify({ status: result.status, plans: result.plans, results: result.results }, null, 2) + '\n');
  else if (values.markdown) io.out(renderMarkdown(result.plans) + '\n');
  else if (command !== 'apply' || result.status === 'in sync') io.out(renderText(result.plans) + '\n');
  const refused = refusals(result.plans);
  if (refused) {
    io.err(refused);
    return 1;
  }
  switch (result.status) {
    case 'in sync':
      if (command === 'apply' && !values.json) io.out('Nothing to apply: the servers match the YAML.\n');
      return 0;
    case 'changes':
      return command === 'apply' ? 0 : 2;
    case 'cancelled':
      io.err('Apply cancelled; nothing was changed.\n');
      return 1;
    case 'applied': {
      const s = summariseDone(result.results);
      if (!values.json) io.out(`Apply complete: ${s.create} created, ${s.change} changed, ${s.delete} deleted.\n`);
      return command === 'drift' ? 2 : 0;
    }
    case 'failed': {
      const failed = result.results.flatMap((r) => r.results.filter((x) => x.status !== 'ok'));
      io.err(`Apply failed: ${failed.length} action(s) did not complete:\n${failed.map((f) => `  ${f.status}: ${f.message}`).join('\n')}\n`);
      return 1;
    }
  }
}

async function runImport(source: FolderSource, env: LocalEnvironment, clusters: string[] | undefined, io: IO): Promise<number> {
  const { targets, diagnostics } = loadDesired(await source.readTree());
  if (diagnostics.length > 0) {
    io.err('dbusers import: the YAML folder is invalid; run dbusers validate\n');
    return 1;
  }
  const target = targets.find((t) => clusters?.includes(t.cluster.name) || clusters?.includes(`${t.cluster.alias}/${t.cluster.name}`));
  if (!target) {
    io.err(`dbusers import: name a declared cluster with --cluster (declared: ${targets.map((t) => `${t.cluster.alias}/${t.cluster.name}`).join(', ')})\n`);
    return 1;
  }
  const actual = await new LocalDispatcher(env).inspect(target.cluster, []);
  io.out(importYaml(target.cluster, actual));
  return 0;
}

/** Replay an executor payload through the Lambda's own handler, with the local adapters. */
async function runEvent(file: string | undefined, source: FolderSource, env: LocalEnvironment, cluster: string | undefined, io: IO): Promise<number> {
  if (!file) {
    io.err('dbusers event: name the payload file: dbusers event FILE.json\n');
    return 1;
  }
  let event: unknown;
  try {
    event = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    io.err(`dbusers event: ${file}: ${(error as Error).message}\n`);
    return 1;
  }
  const files = await source.readTree();
  const { targets, diagnostics } = loadDesired(files);
  if (diagnostics.length > 0) {
    for (const d of diagnostics) io.err(formatDiagnostic(d, files.get(d.file)) + '\n');
    io.err('dbusers event: the YAML folder is the executor\'s configuration and it is invalid; nothing was run\n');
    return 1;
  }
  const handler = makeExecutorHandler(localExecutorDeps(env, targets.map((t) => t.cluster), cluster));
  try {
    io.out(JSON.stringify(await handler(event as ExecutorEvent), null, 2) + '\n');
    return 0;
  } catch (error) {
    if (error instanceof ExecutorFailedError) io.out(JSON.stringify(error.result, null, 2) + '\n');
    else io.err(`dbusers event: ${(error as Error).message}\n`);
    return 1;
  }
}

/** Skips that mean the YAML asked for something that was not done: the run fails, and says how to proceed. */
const HOW_TO_PROCEED: Partial<Record<Skipped['reason'], string>> = {
  'over delete limit': 'run again with --allow-deletes if these deletes are meant',
  'missing object': 'create the tables and routines first, or drop the grants that name them',
  'privilege policy': 'list the privileges under privilegeExceptions: with a reason, once reviewed',
};

/** One block per kind of refusal: the count, one example, the first accounts, and how to proceed. */
function refusals(plans: readonly Plan[]): string | undefined {
  const blocks: string[] = [];
  for (const reason of REFUSAL_REASONS) {
    const fix = HOW_TO_PROCEED[reason];
    const hits = plans.flatMap((p) => p.skipped.filter((s) => s.reason === reason).map((s) => ({ ...s, cluster: `${p.alias}/${p.cluster}` })));
    if (hits.length === 0) continue;
    const names = hits.slice(0, 5).map((h) => `'${h.user}'@'${h.host}' (${h.cluster})`).join(', ');
    const more = hits.length > 5 ? ` and ${hits.length - 5} more` : '';
    blocks.push(`  ${reason}: ${hits.length} account(s): ${names}${more}\n    ${hits[0]!.detail}\n    to proceed: ${fix}`);
  }
  return blocks.length ? `dbusers: refused; these accounts were not changed:\n${blocks.join('\n')}\n` : undefined;
}
