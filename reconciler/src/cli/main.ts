/**
 * `dbusers`: validate, plan, apply, drift, import, event and secret, on commander. The CLI only
 * chooses adapters (the users/ folder, the local secret store, the in-process executor, or SSM in
 * AWS mode) and hands them to reconcile(); printing is report.ts and plan/render.ts.
 *
 * Exit codes: 0 success / no changes, 2 changes (plan, drift), 1 error, invalid input or refusal.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import pkg from '../../../package.json' with { type: 'json' };
import { FolderSource } from '../adapters/local/folder-source.js';
import { LocalDispatcher, LocalEnvironment } from '../adapters/local/local-dispatcher.js';
import { formatDiagnostic, loadDesired } from '../desired/load.js';
import { POLICY_NAMES, type PolicyName } from '../plan/policy.js';
import type { Dispatcher, EventSink } from '../ports/index.js';
import { reconcile } from '../reconcile.js';
import { type EventOptions, putMaster, runEvent, runImport } from './commands.js';
import { confirm, Progress, report, warnIgnored, type IO, type OutputOptions } from './report.js';

const ENVIRONMENT = `
Environment (local mode):
  DBUSERS_DATABASE_URL   mysql://user:password@host:port[?ssl=off|insecure|verify&ssl-ca=FILE] for every
                         cluster (TLS is on and verified for any host but this machine)
  DBUSERS_STATE_DIR      state folder: local secrets and the embedded MariaDB (default .dbusers)
  Without either a URL or a master secret stored with 'dbusers secret put-master', a cluster runs on
  the embedded MariaDB, and every output says so.
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
    this.write(
      JSON.stringify({
        time: new Date().toISOString(),
        source: 'dbusers',
        'detail-type': event.type,
        detail: event.detail,
      }) + '\n',
    );
  }
}

/** Options of plan, apply and drift, as commander parses them. */
interface RunOptions extends OutputOptions {
  cluster: string[];
  policy: PolicyName;
  allowDeletes?: boolean;
  reset: string[];
  createMissing?: boolean;
  events?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** The process's own streams, with what a terminal allows. */
function processIO(): IO {
  return {
    out: (s) => void process.stdout.write(s),
    err: (s) => void process.stderr.write(s),
    color: process.stdout.isTTY === true,
    interactive: process.stderr.isTTY === true,
  };
}

/** Run the CLI; returns the exit code. */
export async function main(argv: string[], io: IO = processIO()): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (c) => (code = c));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 1;
    io.err(`dbusers: ${(error as Error).message}\n`);
    return 1;
  }
}

function buildProgram(io: IO, exit: (code: number) => void): Command {
  const program = new Command('dbusers')
    .description('GitOps for MySQL / Aurora MySQL / MariaDB users, roles and grants on AWS')
    .version(pkg.version)
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showSuggestionAfterError()
    .addHelpText('after', ENVIRONMENT);
  const dirArg = ['[dir]', 'the users/ folder or one file of it', 'users'] as const;

  program
    .command('validate')
    .description('check every YAML file: exit 0 valid, 1 invalid')
    .argument(...dirArg)
    .action(async (dir: string) => exit(await validate(new FolderSource(resolve(dir)), io)));

  for (const [name, description] of [
    ['plan', 'show what apply would do: exit 0 no changes, 2 changes, 1 error or refusal'],
    ['apply', 'make the servers match the YAML (asks first, or --yes): exit 0 done, 1 failed or refused'],
    ['drift', 'report drift only: exit 0 in sync, 2 drift, 1 error'],
  ] as const) {
    const command = program
      .command(name)
      .description(description)
      .argument(...dirArg)
      .option('--cluster <name>', 'only this cluster (NAME or alias/NAME; repeatable)', collect, [])
      .addOption(
        new Option('--policy <name>', 'which changes are allowed').choices(POLICY_NAMES).default('sync'),
      )
      .addOption(
        new Option('--json', 'the plan and results as JSON, alone on stdout').conflicts([
          'markdown',
          'events',
        ]),
      )
      .addOption(
        new Option(
          '--markdown [provider]',
          'the plan as a pull-request comment sized for codecommit or github',
        ).choices(['codecommit', 'github']),
      )
      .option(
        '--allow-deletes',
        'allow a plan over the delete limit (10 accounts, or half of the managed ones)',
      )
      .option('--reset <user@host>', "reset this user's password (repeatable)", collect, [])
      .option('--create-missing', 'create the declared databases and the tables grants name (test servers)')
      .addOption(new Option('--events', 'print result events as JSON lines on stdout').conflicts('json'));
    if (name === 'apply') command.option('-y, --yes', 'apply without asking');
    command.action(async (dir: string, options: RunOptions) =>
      exit(await run(name, resolve(dir), options, io)),
    );
  }

  program
    .command('import')
    .description('print YAML declaring the existing accounts of a cluster, each with adopt: true')
    .argument(...dirArg)
    .requiredOption('--cluster <name>', 'the cluster to read (NAME or alias/NAME)')
    .action(async (dir: string, o: { cluster: string }) =>
      exit(await local(io, {}, (env) => runImport(new FolderSource(resolve(dir)), env, o.cluster, io))),
    );

  program
    .command('event')
    .description(
      "replay an event with the local adapters: a CodeCommit push or a schedule runs the push or drift handler on a git repository; a seed, batch, pieces, inspect or rotation payload runs the executor Lambda's own handler. Exit 0 done, 1 failed or refused",
    )
    .argument('<file>', 'the event, as JSON')
    .argument(...dirArg)
    .option('--cluster <name>', 'the cluster a seed payload goes to, when several share its master secret')
    .option(
      '--repo <dir>',
      "the git repository standing in for the event's repository (default: this folder)",
    )
    .option('--branch <name>', 'the branch pushes apply', 'main')
    .action(async (file: string, dir: string, o: EventOptions) =>
      exit(await local(io, {}, (env) => runEvent(file, new FolderSource(resolve(dir)), env, o, io))),
    );

  program
    .command('secret')
    .description('the local secret store')
    .command('put-master')
    .description(
      "store a cluster's master credentials locally (JSON on stdin, or --from-env): runs then connect to its endpoint",
    )
    .argument(...dirArg)
    .requiredOption('--cluster <name>', 'the cluster (NAME or alias/NAME)')
    .option('--from-env', 'read DBUSERS_MASTER_USERNAME and DBUSERS_MASTER_PASSWORD instead of stdin')
    .action(async (dir: string, o: { cluster: string; fromEnv?: boolean }) =>
      exit(
        await local(io, {}, (env) =>
          putMaster(new FolderSource(resolve(dir)), env, o.cluster, o.fromEnv === true, readStdin, io),
        ),
      ),
    );
  return program;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function validate(source: FolderSource, io: IO): Promise<number> {
  const files = await source.readTree();
  const { diagnostics } = loadDesired(files, source.folder);
  warnIgnored(source, io);
  for (const d of diagnostics) io.err(formatDiagnostic(d, files.get(d.file)) + '\n');
  if (diagnostics.length > 0) {
    io.err(
      `${diagnostics.length} problem(s) in ${new Set(diagnostics.map((d) => d.file)).size} file(s); nothing was applied.\n`,
    );
    return 1;
  }
  io.out(`${files.size} file(s) valid.\n`);
  return 0;
}

/**
 * Run `work` with the local environment (the state folder, servers it starts), stopping what it
 * started afterwards; Ctrl-C says what was done before it exits.
 */
async function local(
  io: IO,
  options: { createMissing?: boolean; progress?: Progress },
  work: (env: LocalEnvironment) => Promise<number>,
): Promise<number> {
  const stateDir = resolve(process.env.DBUSERS_STATE_DIR || '.dbusers');
  mkdirSync(stateDir, { recursive: true });
  const env = new LocalEnvironment({
    stateDir,
    databaseUrl: process.env.DBUSERS_DATABASE_URL || undefined,
    createMissing: options.createMissing,
    log: (line) => io.err(`dbusers: ${line}\n`),
  });
  const stop = () => {
    io.err(options.progress?.interrupted() ?? '\ndbusers: interrupted before any change.\n');
    void env.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await work(env);
  } catch (error) {
    io.err(`dbusers: ${(error as Error).message}\n`);
    return 1;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await env.close();
  }
}

/** plan, apply and drift: one reconcile() with the local or the AWS adapters. */
async function run(
  command: 'plan' | 'apply' | 'drift',
  dir: string,
  options: RunOptions,
  io: IO,
): Promise<number> {
  const progress = new Progress(io);
  return local(io, { createMissing: options.createMissing, progress }, async (env) => {
    const stateDir = env.settings.stateDir;
    const events = new JsonLinesSink(
      options.events ? io.out : (line) => appendFileSync(join(stateDir, 'events.jsonl'), line),
    );
    const source = new FolderSource(dir);
    const result = await reconcile(
      { source, dispatcher: await chooseDispatcher(env, io, progress), events },
      {
        mode: command,
        revision: process.env.DBUSERS_REVISION || undefined,
        policy: options.policy,
        only: options.cluster,
        planOptions: {
          now: Math.floor(Date.now() / 1000),
          allowDeletes: options.allowDeletes,
          resetRequested: options.reset,
        },
        confirm: async (plans) => {
          const go = await confirm(plans, io, options);
          if (go) progress.start(plans.reduce((n, p) => n + p.actions.length, 0));
          return go;
        },
      },
    );
    warnIgnored(source, io);
    return report(command, result, options, io);
  });
}

/**
 * Local mode unless AWS mode is configured: with DBUSERS_SSM_DOCUMENT set, changes go through the
 * SSM automation in each database account and state is read through its executor Lambda.
 */
async function chooseDispatcher(env: LocalEnvironment, io: IO, progress: Progress): Promise<Dispatcher> {
  const document = process.env.DBUSERS_SSM_DOCUMENT;
  if (!document) return new LocalDispatcher(env, {}, (r) => progress.tick(r));
  // Loaded only in AWS mode, so local runs do not pay for the SDK.
  const [{ SSMClient }, { SsmDispatcher }, { RETRY_CONFIG }] = await Promise.all([
    import('@aws-sdk/client-ssm'),
    import('../adapters/aws/ssm-dispatcher.js'),
    import('../adapters/aws/clients.js'),
  ]);
  io.err(
    `dbusers: AWS mode: automation ${document}, executor ${process.env.DBUSERS_EXECUTOR_FUNCTION ?? 'dbusers-executor'}\n`,
  );
  return new SsmDispatcher({
    ssm: new SSMClient(RETRY_CONFIG),
    documentName: document,
    lambdaFunctionName: process.env.DBUSERS_EXECUTOR_FUNCTION ?? 'dbusers-executor',
    executionRoleName: process.env.DBUSERS_EXECUTION_ROLE || undefined,
    automationAssumeRole: process.env.DBUSERS_AUTOMATION_ROLE_ARN || undefined,
    revision: process.env.DBUSERS_REVISION || `cli-${new Date().toISOString()}`,
  });
}
