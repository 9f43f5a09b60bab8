/**
 * Fleet simulation, run by hand (`npm run bench:fleet`), never a timed test: one push touching
 * 100 accounts × 3 Regions × 5 clusters (1,500 targets), through reconcile() and the real
 * SsmDispatcher, with SSM and Lambda mocked at the SDK (aws-sdk-client-mock) behind a latency model
 * on a virtual clock. Every request is counted by kind; the table gives the peak of automations in
 * flight per account and Region and the simulated wall time against Lambda's 15 minutes, for several
 * concurrencies of reconcile().
 *
 * Latency model (seconds): Lambda Invoke (inspect) 0.6; StartAutomationExecution 0.2;
 * DescribeAutomationExecutions and GetAutomationExecution 0.1; an automation runs 25 s (assume the
 * role, invoke the executor, batch of a few actions). Time passes only while a request is in flight
 * or the dispatcher sleeps between polls, and it is scaled: 1 simulated second = 10 real milliseconds.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  DescribeAutomationExecutionsCommand,
  GetAutomationExecutionCommand,
  SSMClient,
  StartAutomationExecutionCommand,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { SsmDispatcher } from '../../reconciler/src/adapters/aws/ssm-dispatcher.js';
import { emptyAuroraServer } from '../support/fixtures.js';
import { reconcile } from '../../reconciler/src/reconcile.js';
import { MemorySource } from '../support/server.js';

const SCALE_MS = 10; // real milliseconds per simulated second (timers are not finer than 1 ms)
const LATENCY = { invoke: 0.6, start: 0.2, describe: 0.1, get: 0.1, automation: 25 };
const sleep = (seconds: number): Promise<void> => new Promise((r) => setTimeout(r, seconds * SCALE_MS));

/** 100 account files, each with 3 Regions × 5 clusters and one user per cluster. */
function fleet(): Record<string, string> {
  const files: Record<string, string> = {};
  for (let a = 0; a < 100; a++) {
    const account = String(100000000000 + a);
    const clusters: string[] = [];
    const users: string[] = [];
    for (const region of ['eu-west-1', 'us-east-1', 'ap-southeast-2']) {
      for (let c = 0; c < 5; c++) {
        const name = `db-${region}-${c}`;
        clusters.push(
          `  - { name: ${name}, region: ${region}, engine: aurora-mysql, endpoint: ${name}.example.com, port: 3306, masterSecretArn: "arn:aws:secretsmanager:${region}:${account}:secret:m", databases: [app] }`,
        );
        users.push(
          `  - { name: app_${c}, cluster: ${name}, grants: [{ database: app, profile: readonly }] }`,
        );
      }
    }
    files[`users/acct${a}.yaml`] =
      `account: "${account}"\nalias: acct${a}\nclusters:\n${clusters.join('\n')}\nusers:\n${users.join('\n')}\n`;
  }
  return files;
}

/** Results function invocations at once (its reserved concurrency in the CDK app). */
const COLLECTORS = 10;

async function simulate(concurrency: number, results: 'poll' | 'events') {
  const ssm = mockClient(SSMClient);
  const lambda = mockClient(LambdaClient);
  const counts: Record<string, number> = {};
  const count = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
  const started = new Map<
    string,
    { at: number; key: string; actions: { kind: string; user: string; host: string }[]; pieces: string[] }
  >();
  const inFlight = new Map<string, number>();
  let peak = 0;
  const t0 = performance.now();
  const now = () => (performance.now() - t0) / SCALE_MS;
  let n = 0;
  lambda.on(InvokeCommand).callsFake(async () => {
    count('Lambda Invoke (inspect)');
    await sleep(LATENCY.invoke);
    return { StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify(emptyAuroraServer)) };
  });
  ssm.on(StartAutomationExecutionCommand).callsFake(async (input) => {
    count('StartAutomationExecution');
    await sleep(LATENCY.start);
    const id = `exec-${++n}`;
    const location = input.TargetLocations[0];
    const key = `${location.Accounts[0]}/${location.Regions[0]}`;
    inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
    peak = Math.max(peak, inFlight.get(key)!);
    const batch = JSON.parse((input.Parameters.Batch as string[]).join(''));
    started.set(id, { at: now(), key, actions: batch.actions, pieces: input.Parameters.Batch });
    return { AutomationExecutionId: id };
  });
  ssm.on(DescribeAutomationExecutionsCommand).callsFake(async (input) => {
    count('DescribeAutomationExecutions');
    await sleep(LATENCY.describe);
    return {
      AutomationExecutionMetadataList: [{ AutomationExecutionId: `${input.Filters[0].Values[0]}-child` }],
    };
  });
  ssm.on(GetAutomationExecutionCommand).callsFake(async (input) => {
    count('GetAutomationExecution');
    await sleep(LATENCY.get);
    const id = String(input.AutomationExecutionId).replace(/-child$/, '');
    const run = started.get(id)!;
    if (now() - run.at < LATENCY.automation)
      return { AutomationExecution: { AutomationExecutionId: id, AutomationExecutionStatus: 'InProgress' } };
    if (!input.AutomationExecutionId.endsWith('-child')) {
      inFlight.set(run.key, inFlight.get(run.key)! - 1);
      return {
        AutomationExecution: {
          AutomationExecutionId: id,
          AutomationExecutionStatus: 'Success',
          Parameters: { Action: ['batch'], Batch: run.pieces },
        },
      };
    }
    const results = run.actions.map((a) => ({
      kind: a.kind,
      user: a.user,
      host: a.host,
      status: 'ok',
      message: 'missing',
    }));
    return {
      AutomationExecution: {
        AutomationExecutionId: id,
        AutomationExecutionStatus: 'Success',
        Outputs: { 'invokeBatch.Payload': [JSON.stringify({ cluster: 'x', ok: true, results })] },
      },
    };
  });
  const dispatcher = new SsmDispatcher({
    ssm: new SSMClient({ region: 'eu-west-1' }),
    documentName: 'dbusers-executor',
    lambdaFunctionName: 'dbusers-executor',
    revision: 'c0ffee',
    targetClients: () => ({
      ssm: new SSMClient({ region: 'eu-west-1' }),
      lambda: new LambdaClient({ region: 'eu-west-1' }),
    }),
    poll: { initialMs: 2000, maxMs: 15_000, deadlineMs: 15 * 60_000, sleep: (ms) => sleep(ms / 1000) },
    results,
  });
  const result = await reconcile(
    { source: new MemorySource(fleet()), dispatcher, events: { publish: async () => undefined } },
    {
      mode: 'apply',
      policy: 'sync',
      revision: 'c0ffee',
      eventId: 'push-1',
      concurrency,
      planOptions: { now: 0 },
    },
  );
  const reconciler = now();
  let applied = result.results.filter((r) => r.ok && !r.started).length;
  if (results === 'events') {
    // Each ended execution's status-change event invokes the results function, COLLECTORS at once.
    const queue = result.results.flatMap((r) => r.started ?? []);
    await Promise.all(
      Array.from({ length: COLLECTORS }, async () => {
        for (let id = queue.shift(); id; id = queue.shift()) {
          await sleep(Math.max(0, started.get(id)!.at + LATENCY.automation - now()));
          const collected = await dispatcher.collect(id);
          if (collected?.results.every((r) => r.status === 'ok')) applied++;
        }
      }),
    );
  }
  ssm.restore();
  lambda.restore();
  return {
    concurrency,
    results,
    reconciler,
    seconds: now(),
    applied,
    targets: result.plans.length,
    peak,
    counts,
  };
}

async function main(): Promise<void> {
  const rows: string[][] = [];
  const modes = (process.env.FLEET_RESULTS ?? 'poll,events').split(',') as ('poll' | 'events')[];
  const requests: Record<string, Record<string, number>> = {};
  for (const mode of modes)
    for (const concurrency of (process.env.FLEET_CONCURRENCY ?? '8,32,64,128').split(',').map(Number)) {
      const r = await simulate(concurrency, mode);
      requests[mode] = r.counts;
      const minutes = r.reconciler / 60;
      rows.push([
        mode,
        String(concurrency),
        `${r.applied}/${r.targets}`,
        `${minutes.toFixed(1)} min`,
        minutes <= 15 ? 'yes' : 'no',
        `${(r.seconds / 60).toFixed(1)} min`,
        String(r.peak),
      ]);
    }
  const table = (header: string[], body: string[][]) => {
    const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
    const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
    return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join(
      '\n',
    );
  };
  console.log(
    table(
      [
        'results',
        'concurrency',
        'targets applied',
        'reconciler Lambda open',
        'within 15 min',
        'all results in',
        'peak automations per account+Region',
      ],
      rows,
    ),
  );
  console.log();
  console.log(
    table(
      ['request (per run)', ...modes],
      [...new Set(modes.flatMap((m) => Object.keys(requests[m]!)))].map((k) => [
        k,
        ...modes.map((m) => String(requests[m]![k] ?? 0)),
      ]),
    ),
  );
}

await main();
