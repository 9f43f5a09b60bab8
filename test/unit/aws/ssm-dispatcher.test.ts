import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  DescribeAutomationExecutionsCommand,
  GetAutomationExecutionCommand,
  SSMClient,
  StartAutomationExecutionCommand,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../reconciler/src/cli/main.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  chunkBatch,
  MAX_PIECES,
  PIECE_SIZE,
  SsmDispatcher,
  uuidFrom,
} from '../../../reconciler/src/adapters/aws/ssm-dispatcher.js';
import type { BatchResult } from '../../../reconciler/src/model/batch.js';
import type { Action } from '../../../reconciler/src/model/types.js';
import { reconcile } from '../../../reconciler/src/reconcile.js';
import { emptyAuroraServer, ordersCluster } from '../../support/fixtures.js';
import { MemorySource } from '../../support/server.js';

const ssmMock = mockClient(SSMClient);
const lambdaMock = mockClient(LambdaClient);
const sleeps: number[] = [];
const settings = {
  ssm: new SSMClient({ region: 'eu-west-1' }),
  documentName: 'arn:aws:ssm:eu-west-1:999988887777:document/dbusers-executor',
  lambdaFunctionName: 'dbusers-executor',
  revision: '7f0103fMERGE',
  targetClients: () => ({
    ssm: new SSMClient({ region: 'eu-west-1' }),
    lambda: new LambdaClient({ region: 'eu-west-1' }),
  }),
  poll: {
    initialMs: 1000,
    maxMs: 4000,
    deadlineMs: 20_000,
    sleep: async (ms: number) => void sleeps.push(ms),
  },
};

/** The child execution's success, with the executor's result as the step output. */
function childSucceeded(results: BatchResult) {
  return {
    AutomationExecution: {
      AutomationExecutionId: 'child-1',
      AutomationExecutionStatus: 'Success',
      Outputs: { 'invokeBatch.Payload': [JSON.stringify(results)] },
    },
  };
}

function okResults(actions: Action[]): BatchResult {
  return {
    cluster: 'orders',
    ok: true,
    results: actions.map((a) => ({
      kind: a.kind,
      user: a.user,
      host: a.host,
      status: 'ok',
      message: a.reason,
    })),
  };
}

/** The batch the executor receives: the pieces of the Batch parameter, joined. */
function sentBatch(call = 0): { id: string; actions: Action[]; target: unknown } {
  return JSON.parse(
    ssmMock.commandCalls(StartAutomationExecutionCommand)[call]!.args[0].input.Parameters!.Batch!.join(''),
  );
}

beforeEach(() => {
  ssmMock.reset();
  lambdaMock.reset();
  sleeps.length = 0;
  lambdaMock.on(InvokeCommand).resolves({
    StatusCode: 200,
    Payload: new TextEncoder().encode(JSON.stringify(emptyAuroraServer)) as never,
  });
  ssmMock.on(StartAutomationExecutionCommand).resolves({ AutomationExecutionId: 'parent-1' });
  ssmMock
    .on(DescribeAutomationExecutionsCommand)
    .resolves({ AutomationExecutionMetadataList: [{ AutomationExecutionId: 'child-1' }] });
  ssmMock
    .on(GetAutomationExecutionCommand, { AutomationExecutionId: 'parent-1' })
    .resolvesOnce({ AutomationExecution: { AutomationExecutionStatus: 'InProgress' } })
    .resolves({
      AutomationExecution: { AutomationExecutionId: 'parent-1', AutomationExecutionStatus: 'Success' },
    });
});

afterEach(() => {
  ssmMock.reset();
  lambdaMock.reset();
});

describe('SsmDispatcher in reconcile()', () => {
  it('applies the DESIGN §3 example with one execution per target, in the target account, and reads back per-action results', async () => {
    ssmMock
      .on(GetAutomationExecutionCommand, { AutomationExecutionId: 'child-1' })
      .callsFake(() => childSucceeded(okResults(sentBatch().actions)));
    const result = await reconcile(
      {
        source: new MemorySource({
          'users/payments-prod.yaml': readFileSync('users/payments-prod.yaml', 'utf8'),
        }),
        dispatcher: new SsmDispatcher(settings),
        events: { publish: async () => undefined },
      },
      { mode: 'apply', policy: 'sync', planOptions: { now: 0 }, revision: '7f0103fMERGE' },
    );
    expect(result.status).toBe('applied');
    expect(result.results[0]!.results.map((r) => `${r.status} ${r.kind} ${r.user}`)).toEqual([
      'ok create_role reporting',
      'ok create_user app_iam',
      'ok create_user audit_rw',
    ]);

    // inspect went straight to the executor in the database account
    expect(
      lambdaMock
        .commandCalls(InvokeCommand)
        .map((c) => JSON.parse(new TextDecoder().decode(c.args[0].input.Payload as Uint8Array))),
    ).toEqual([
      {
        action: 'inspect',
        target: expect.objectContaining({ account: '111122223333', region: 'eu-west-1', name: 'orders' }),
        secretNames: ['rds-orders-audit_rw-secret'],
        objects: [{ database: 'orders', table: 'invoices' }],
      },
    ]);
    const starts = ssmMock.commandCalls(StartAutomationExecutionCommand);
    expect(starts).toHaveLength(1);
    const batch = sentBatch();
    expect(starts[0]!.args[0].input).toEqual({
      DocumentName: settings.documentName,
      Parameters: { LambdaFunctionName: ['dbusers-executor'], Action: ['batch'], Batch: expect.any(Array) },
      ClientToken: uuidFrom(batch.id),
      TargetLocations: [
        {
          Accounts: ['111122223333'],
          Regions: ['eu-west-1'],
          ExecutionRoleName: 'AssumableRoleInDatabaseAccount',
          TargetLocationMaxConcurrency: '1',
          TargetLocationMaxErrors: '0',
        },
      ],
    });
    // The run's key (reconcile() owns it: commit, target, plan, event), then the chunk's own digest.
    expect(batch.id).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\/[0-9a-f]{16}$/,
    );
    expect(batch.actions.map((a) => a.kind)).toEqual(['create_role', 'create_user', 'create_user']);
    expect(JSON.stringify(starts[0]!.args[0].input)).not.toMatch(/password"\s*:/);
    expect(ssmMock.commandCalls(DescribeAutomationExecutionsCommand)[0]!.args[0].input).toEqual({
      Filters: [{ Key: 'ParentExecutionId', Values: ['parent-1'] }],
    });
    expect(ssmMock.commandCalls(GetAutomationExecutionCommand).map((c) => c.args[0].input)).toEqual([
      { AutomationExecutionId: 'parent-1' },
      { AutomationExecutionId: 'parent-1' },
      { AutomationExecutionId: 'child-1' },
    ]);
    expect(lambdaMock.commandCalls(InvokeCommand)[0]!.args[0].input).toEqual({
      FunctionName: 'dbusers-executor',
      InvocationType: 'RequestResponse',
      Payload: expect.any(Uint8Array),
    });
    expect(sleeps).toEqual([1000]);
  });
});

describe('the CLI in AWS mode', () => {
  it('reads every cluster through its executor Lambda when DBUSERS_SSM_DOCUMENT is set, and starts nothing on plan', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      DBUSERS_SSM_DOCUMENT: 'dbusers-executor',
      DBUSERS_STATE_DIR: mkdtempSync(join(tmpdir(), 'dbusers-cli-')),
      AWS_REGION: 'eu-west-1',
    });
    delete process.env.DBUSERS_DATABASE_URL;
    let out = '';
    try {
      const code = await main(['plan', 'users'], { out: (t) => void (out += t), err: () => undefined });
      expect(code).toBe(2);
    } finally {
      process.env = saved;
    }
    expect(
      lambdaMock
        .commandCalls(InvokeCommand)
        .map((c) => JSON.parse(new TextDecoder().decode(c.args[0].input.Payload as Uint8Array)).target.name),
    ).toEqual(['orders', 'catalog']);
    expect(ssmMock.commandCalls(StartAutomationExecutionCommand)).toHaveLength(0);
    expect(out).toContain("+ create user 'audit_rw'@'%'");
  });
});

describe('SsmDispatcher', () => {
  const dispatcher = () => new SsmDispatcher(settings);
  const actions = (n: number, grants = 1): Action[] =>
    Array.from({ length: n }, (_, i) => ({
      kind: 'create_user',
      user: `user_${i}`,
      host: '%',
      auth: 'password',
      adopt: false,
      secretName: `rds-orders-user_${i}-secret`,
      grants: Array.from({ length: grants }, (_, g) => ({
        level: 'table' as const,
        database: 'orders',
        table: `table_${g}`,
        privilege: 'SELECT',
      })),
      roles: [],
      reason: 'missing',
    }));

  it('chunks a large batch to fit SSM parameters, covering every action once with distinct tokens', async () => {
    const many = actions(120, 6);
    const chunks = chunkBatch({ target: ordersCluster, actions: many }, 'rev');
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) {
      expect(c.pieces.length).toBeLessThanOrEqual(MAX_PIECES);
      for (const p of c.pieces) expect(p.length).toBeLessThanOrEqual(PIECE_SIZE);
      expect(JSON.parse(c.pieces.join('')).actions).toEqual(c.actions);
    }
    expect(chunks.flatMap((c) => c.actions)).toEqual(many);
    expect(new Set(chunks.map((c) => uuidFrom(c.id))).size).toBe(chunks.length);
    ssmMock.on(GetAutomationExecutionCommand, { AutomationExecutionId: 'child-1' }).callsFake(() => {
      const calls = ssmMock.commandCalls(StartAutomationExecutionCommand);
      return childSucceeded(okResults(sentBatch(calls.length - 1).actions));
    });
    ssmMock
      .on(GetAutomationExecutionCommand, { AutomationExecutionId: 'parent-1' })
      .resolves({ AutomationExecution: { AutomationExecutionStatus: 'Success' } });
    const result = await dispatcher().dispatch({ target: ordersCluster, actions: many });
    expect(ssmMock.commandCalls(StartAutomationExecutionCommand)).toHaveLength(chunks.length);
    expect(result.results).toHaveLength(120);
    expect(result.ok).toBe(true);
  });

  it('derives the same ClientToken for the same commit, target and plan, and another for another plan', () => {
    const a = chunkBatch({ target: ordersCluster, actions: actions(2) }, 'rev')[0]!.id;
    expect(chunkBatch({ target: ordersCluster, actions: actions(2) }, 'rev')[0]!.id).toBe(a);
    expect(chunkBatch({ target: ordersCluster, actions: actions(3) }, 'rev')[0]!.id).not.toBe(a);
    expect(chunkBatch({ target: ordersCluster, actions: actions(2) }, 'rev2')[0]!.id).not.toBe(a);
    expect(uuidFrom(a)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("reports a failed step per action, from the executor's error", async () => {
    const three = actions(3);
    const failed: BatchResult = {
      cluster: 'orders',
      ok: false,
      results: [
        { kind: 'create_user', user: 'user_0', host: '%', status: 'ok', message: 'missing' },
        {
          kind: 'create_user',
          user: 'user_1',
          host: '%',
          status: 'failed',
          message: "create_user 'user_1'@'%': Table 'orders.table_0' doesn't exist",
        },
        { kind: 'create_user', user: 'user_2', host: '%', status: 'ok', message: 'missing' },
      ],
    };
    ssmMock.on(GetAutomationExecutionCommand, { AutomationExecutionId: 'child-1' }).resolves({
      AutomationExecution: {
        AutomationExecutionId: 'child-1',
        AutomationExecutionStatus: 'Failed',
        StepExecutions: [
          {
            StepName: 'invokeBatch',
            StepStatus: 'Failed',
            Outputs: {
              Payload: [
                JSON.stringify({ errorType: 'ExecutorFailedError', errorMessage: JSON.stringify(failed) }),
              ],
            },
          },
        ],
      },
    });
    const result = await dispatcher().dispatch({ target: ordersCluster, actions: three });
    expect(result.ok).toBe(false);
    expect(result.results).toEqual(failed.results);
  });

  it('gives up at the deadline with growing waits, saying the run may go on', async () => {
    ssmMock
      .on(GetAutomationExecutionCommand, { AutomationExecutionId: 'parent-1' })
      .resolves({ AutomationExecution: { AutomationExecutionStatus: 'InProgress' } });
    const result = await dispatcher().dispatch({ target: ordersCluster, actions: actions(1) });
    expect(result.results[0]).toMatchObject({
      status: 'failed',
      message: expect.stringContaining('did not finish before the deadline'),
    });
    expect(sleeps).toEqual([1000, 1500, 2250, 3375, 4000, 4000, 4000]);
  });

  it('fails on a refusal, and leaves retries to the SDK (no second start for one attempt)', async () => {
    ssmMock
      .on(StartAutomationExecutionCommand)
      .rejects(
        Object.assign(new Error('bad parameter'), { name: 'InvalidAutomationExecutionParametersException' }),
      );
    await expect(dispatcher().dispatch({ target: ordersCluster, actions: actions(1) })).rejects.toThrow(
      'bad parameter',
    );
    expect(ssmMock.commandCalls(StartAutomationExecutionCommand)).toHaveLength(1);
  });

  it('fails inspection loudly when the executor fails', async () => {
    lambdaMock.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: new TextEncoder().encode('{"errorMessage":"master secret has no current value"}') as never,
    });
    await expect(dispatcher().inspect(ordersCluster, [])).rejects.toThrow(
      /inspect payments-prod\/orders: the executor failed: .*master secret/,
    );
  });
});
