/**
 * The AWS loop end to end on a real MariaDB: reconcile() with the SSM dispatcher, where the mocked
 * SSM and Lambda hand their payloads to the real executor handler (Secrets Manager mocked at the
 * SDK). Every SSM parameter, Lambda payload, event, result and console line is captured, and no
 * password appears in any of them.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  DescribeAutomationExecutionsCommand,
  GetAutomationExecutionCommand,
  SSMClient,
  StartAutomationExecutionCommand,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SsmDispatcher } from '../../reconciler/src/adapters/aws/ssm-dispatcher.js';
import { connect } from '../../reconciler/src/adapters/mysql/database.js';
import { loadDesired } from '../../reconciler/src/desired/load.js';
import { makeExecutorHandler } from '../../reconciler/src/handlers/executor.js';
import { awsExecutorDeps } from '../../reconciler/src/handlers/executor-lambda.js';
import { reconcile } from '../../reconciler/src/reconcile.js';
import { REGISTRY_KEY_SECRET } from '../../reconciler/src/adapters/aws/secrets-manager.js';
import { fakeSecretsManager } from '../support/fake-secrets-manager.js';
import {
  allowed,
  createExampleSchema,
  loginAs,
  MemorySource,
  startTestServer,
  type TestServer,
} from '../support/server.js';

let server: TestServer;
const ssmMock = mockClient(SSMClient);
const lambdaMock = mockClient(LambdaClient);
const sm = fakeSecretsManager('eu-west-1', '111122223333');
const seen: string[] = [];
const events: unknown[] = [];

beforeAll(async () => {
  server = await startTestServer();
  const admin = await server.admin();
  await createExampleSchema(admin);
  await admin.query('CREATE TABLE audit.events (id INT)');
  await admin.close();
  sm.seed('arn:aws:secretsmanager:eu-west-1:111122223333:secret:orders-master', {
    username: 'root',
    password: '',
  });
  const clusters = loadDesired(
    new Map([['users/payments-prod.yaml', readFileSync('users/payments-prod.yaml', 'utf8')]]),
  ).targets.map((t) => t.cluster);
  const executor = makeExecutorHandler({
    ...awsExecutorDeps({
      secretsClient: sm.client,
      connect: (spec) => connect({ ...spec, host: server.spec.host, port: server.spec.port }),
      env: { DBUSERS_CLUSTERS: JSON.stringify(clusters) },
    }),
    options: { iamFallback: 'lock' },
  });
  const executions = new Map<string, { status: string; payload: string }>();
  lambdaMock.on(InvokeCommand).callsFake(async (input) => {
    const payload = new TextDecoder().decode(input.Payload as Uint8Array);
    seen.push(payload);
    const result = await executor(JSON.parse(payload));
    const text = JSON.stringify(result);
    seen.push(text);
    return { StatusCode: 200, Payload: new TextEncoder().encode(text) };
  });
  ssmMock.on(StartAutomationExecutionCommand).callsFake(async (input) => {
    seen.push(JSON.stringify(input));
    const id = `exec-${executions.size + 1}`;
    try {
      const result = await executor({ pieces: input.Parameters.Batch } as never);
      executions.set(id, { status: 'Success', payload: JSON.stringify(result) });
    } catch (error) {
      executions.set(id, {
        status: 'Failed',
        payload: JSON.stringify({ errorType: (error as Error).name, errorMessage: (error as Error).message }),
      });
    }
    return { AutomationExecutionId: id };
  });
  ssmMock.on(DescribeAutomationExecutionsCommand).callsFake((input) => ({
    AutomationExecutionMetadataList: [{ AutomationExecutionId: `${input.Filters[0].Values[0]}-child` }],
  }));
  ssmMock.on(GetAutomationExecutionCommand).callsFake((input) => {
    const e = executions.get(input.AutomationExecutionId.replace(/-child$/, ''))!;
    seen.push(e.payload);
    return e.status === 'Success'
      ? {
          AutomationExecution: {
            AutomationExecutionId: input.AutomationExecutionId,
            AutomationExecutionStatus: 'Success',
            Outputs: { 'invokeBatch.Payload': [e.payload] },
          },
        }
      : {
          AutomationExecution: {
            AutomationExecutionId: input.AutomationExecutionId,
            AutomationExecutionStatus: 'Failed',
            StepExecutions: [{ StepName: 'invokeBatch', Outputs: { Payload: [e.payload] } }],
          },
        };
  });
});

afterAll(async () => {
  ssmMock.restore();
  lambdaMock.restore();
  sm.mock.restore();
  await server?.stop();
});

async function run(mode: 'plan' | 'apply', yaml = readFileSync('users/payments-prod.yaml', 'utf8')) {
  return reconcile(
    {
      source: new MemorySource({ 'users/payments-prod.yaml': yaml }),
      dispatcher: new SsmDispatcher({
        ssm: new SSMClient({}),
        documentName: 'dbusers-executor',
        lambdaFunctionName: 'dbusers-executor',
        revision: 'c0ffee',
        targetClients: () => ({ ssm: new SSMClient({}), lambda: new LambdaClient({}) }),
        poll: { initialMs: 1, maxMs: 1, deadlineMs: 100 },
      }),
      events: { publish: async (e) => void events.push(e) },
    },
    { mode, policy: 'sync', planOptions: { now: Math.floor(Date.now() / 1000) }, revision: 'c0ffee' },
  );
}

describe('the AWS loop', () => {
  it('applies the DESIGN §3 example through SSM and the executor, then finds nothing to do', async () => {
    const log = vi.spyOn(console, 'log');
    const error = vi.spyOn(console, 'error');
    const applied = await run('apply');
    expect(applied.status).toBe('applied');
    expect((await run('plan')).status).toBe('in sync');
    const secret = JSON.parse(
      [...sm.secrets.get('rds-orders-audit_rw-secret')!.versions.values()].find((v) =>
        v.stages.includes('AWSCURRENT'),
      )!.value,
    );
    const db = await loginAs(server, 'audit_rw', secret.password);
    expect(await allowed(db, 'INSERT INTO audit.events VALUES (1)')).toBe(true);
    expect(await allowed(db, 'INSERT INTO orders.invoices VALUES (1)')).toBe(false);
    await db.close();
    seen.push(...[...log.mock.calls, ...error.mock.calls].map((c) => c.join(' ')));
  });

  it('rotates on request and deletes on removal, through the same path', async () => {
    const plan = await reconcile(
      {
        source: new MemorySource({
          'users/payments-prod.yaml': readFileSync('users/payments-prod.yaml', 'utf8'),
        }),
        dispatcher: new SsmDispatcher({
          ssm: new SSMClient({}),
          documentName: 'd',
          lambdaFunctionName: 'dbusers-executor',
          revision: 'c0ffee2',
          targetClients: () => ({ ssm: new SSMClient({}), lambda: new LambdaClient({}) }),
          poll: { initialMs: 1, maxMs: 1, deadlineMs: 100 },
        }),
        events: { publish: async (e) => void events.push(e) },
      },
      {
        mode: 'apply',
        policy: 'sync',
        planOptions: { now: 0, resetRequested: ['audit_rw@%'] },
        revision: 'c0ffee2',
      },
    );
    expect(plan.results[0]!.results).toEqual([
      expect.objectContaining({ kind: 'reset_password', status: 'ok' }),
    ]);
    const removed = await run(
      'apply',
      readFileSync('users/payments-prod.yaml', 'utf8').replace(/ {2}- name: app_iam[\s\S]*$/, ''),
    );
    expect(removed.results[0]!.results).toEqual([
      expect.objectContaining({ kind: 'delete_user', user: 'app_iam', status: 'ok' }),
    ]);
  });

  it('never lets a password out: not in SSM parameters, Lambda payloads, results, events or logs', () => {
    const passwords = [...sm.secrets.values()]
      .filter((s) => s.name !== REGISTRY_KEY_SECRET)
      .flatMap((s) => [...s.versions.values()].map((v) => String(JSON.parse(v.value).password)))
      .filter((p) => p.length > 8);
    expect(passwords.length).toBeGreaterThanOrEqual(2);
    const everything = [...seen, JSON.stringify(events)].join('\n');
    expect(everything.length).toBeGreaterThan(1000);
    for (const p of passwords) expect(everything).not.toContain(p);
  });
});
