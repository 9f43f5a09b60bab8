/**
 * Dispatch through Systems Manager: one StartAutomationExecution of the dbusers document per target
 * and chunk, run in the database's own account and Region through TargetLocations; poll until it
 * ends; read the per-action results back from the child execution's step output. Actual state is
 * read by invoking the executor's `inspect` directly through the cross-account role. The
 * reconciler never holds another account's database credentials.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  DescribeAutomationExecutionsCommand,
  GetAutomationExecutionCommand,
  SSMClient,
  StartAutomationExecutionCommand,
  type AutomationExecution,
} from '@aws-sdk/client-ssm';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { ActionResult, BatchResult, ExecutorBatch } from '../../model/batch.js';
import type { Action, ActualState, ClusterSpec, ObjectRef } from '../../model/types.js';
import type { Dispatcher } from '../../ports/index.js';
import { planDigest, uuidFrom } from '../../model/run.js';
import { AUTOMATION_ENDED } from './automation-status.js';
import { RETRY_CONFIG } from './clients.js';
import { type InspectPayload, unpackInspect } from './inspect-payload.js';

/** SSM limits (reference/aws-formats.md §3.2): a parameter holds at most 50 strings of 512 characters. */
export const PIECE_SIZE = 500;
export const MAX_PIECES = 50;

const TERMINAL = new Set<string>(AUTOMATION_ENDED);
const SUCCEEDED = new Set(['Success', 'CompletedWithSuccess']);

/** How the central account reaches the database accounts. */
export interface SsmDispatcherSettings {
  /** SSM in the central (tooling) account, where executions are started. */
  ssm: SSMClient;
  /** The document's name, or its ARN when shared from another account. */
  documentName: string;
  /** The executor Lambda's name, the same in every database account. */
  lambdaFunctionName: string;
  /** `TargetLocations.ExecutionRoleName`: the role assumed in the database account. @default AssumableRoleInDatabaseAccount */
  executionRoleName?: string;
  /** `AutomationAssumeRole` of the parent execution (the administration role), when the document needs it. */
  automationAssumeRole?: string;
  /** The commit being applied: part of each execution's idempotency key. */
  revision: string;
  /** Clients in a database account, acting as the execution role. */
  targetClients?: (account: string, region: string) => { ssm: SSMClient; lambda: LambdaClient };
  /**
   * How results come back: `poll` waits for each execution (the CLI); `events` returns once they are
   * started, and SSM's status-change events bring them to {@link SsmDispatcher.collect} (the Lambda,
   * which then never stays open while automations run). @default "poll"
   */
  results?: 'poll' | 'events';
  poll?: { initialMs: number; maxMs: number; deadlineMs: number; sleep?: (ms: number) => Promise<void> };
}

export { uuidFrom };

/**
 * Split a batch into chunks whose JSON fits one execution's parameter, each with its idempotency id:
 * the run's key for the batch (reconcile() owns it), and the chunk's own actions.
 */
export function chunkBatch(
  batch: ExecutorBatch,
  revision: string,
): { id: string; pieces: string[]; actions: Action[] }[] {
  const base = batch.id ?? `${revision}/${batch.target.account}/${batch.target.region}/${batch.target.name}`;
  const encode = (actions: Action[]) => {
    const id = `${base}/${planDigest(actions).slice(0, 16)}`;
    const text = JSON.stringify({
      action: 'batch',
      id,
      target: batch.target,
      actions,
      ...(batch.options ? { options: batch.options } : {}),
    });
    return { id, actions, pieces: text.match(new RegExp(`[\\s\\S]{1,${PIECE_SIZE}}`, 'g')) ?? [] };
  };
  const split = (actions: Action[]): ReturnType<typeof encode>[] => {
    const whole = encode(actions);
    if (whole.pieces.length <= MAX_PIECES) return [whole];
    if (actions.length === 1)
      throw new Error(
        `action ${actions[0]!.kind} '${actions[0]!.user}' is too large for one SSM execution (${whole.pieces.length} pieces)`,
      );
    const half = Math.ceil(actions.length / 2);
    return [...split(actions.slice(0, half)), ...split(actions.slice(half))];
  };
  return split(batch.actions);
}

/** Results for every action of a chunk when the execution says nothing per action. */
function allFailed(actions: readonly Action[], message: string): ActionResult[] {
  return actions.map((a) => ({ kind: a.kind, user: a.user, host: a.host, status: 'failed', message }));
}

/** The Dispatcher on SSM Automation. */
export class SsmDispatcher implements Dispatcher {
  /**
   * 1,500 targets (100 accounts × 3 Regions × 5 clusters) fit Lambda's 15 minutes at 128 at once,
   * with at most 5 automations per account and Region (SSM allows 100): `npm run bench:fleet`.
   */
  readonly concurrency = 128;

  private readonly role: string;

  constructor(private readonly s: SsmDispatcherSettings) {
    this.role = s.executionRoleName ?? 'AssumableRoleInDatabaseAccount';
  }

  private clients(account: string, region: string) {
    if (this.s.targetClients) return this.s.targetClients(account, region);
    const credentials = fromTemporaryCredentials({
      params: { RoleArn: `arn:aws:iam::${account}:role/${this.role}`, RoleSessionName: 'dbusers-reconciler' },
    });
    return {
      ssm: new SSMClient({ region, credentials, ...RETRY_CONFIG }),
      lambda: new LambdaClient({ region, credentials, ...RETRY_CONFIG }),
    };
  }

  async inspect(
    cluster: ClusterSpec,
    secretNames: readonly string[],
    objects: readonly ObjectRef[] = [],
  ): Promise<ActualState> {
    const { lambda } = this.clients(cluster.account, cluster.region);
    const payload = new TextEncoder().encode(
      JSON.stringify({ action: 'inspect', target: cluster, secretNames, objects }),
    );
    const out = await lambda.send(
      new InvokeCommand({
        FunctionName: this.s.lambdaFunctionName,
        InvocationType: 'RequestResponse',
        Payload: payload,
      }),
    );
    const body = out.Payload ? new TextDecoder().decode(out.Payload) : '';
    if (out.FunctionError)
      throw new Error(`inspect ${cluster.alias}/${cluster.name}: the executor failed: ${body}`);
    return unpackInspect(JSON.parse(body) as InspectPayload);
  }

  async dispatch(batch: ExecutorBatch): Promise<BatchResult> {
    const results: ActionResult[] = [];
    const executions: string[] = [];
    for (const chunk of chunkBatch(batch, this.s.revision)) {
      const parentId = await this.start(batch.target, chunk);
      if (this.s.results === 'events') executions.push(parentId);
      else results.push(...(await this.finish(batch.target, parentId, chunk.actions)));
    }
    if (executions.length) return { cluster: batch.target.name, ok: true, results: [], started: executions };
    return { cluster: batch.target.name, ok: results.every((r) => r.status === 'ok'), results };
  }

  /**
   * The results of a finished parent execution, when its status-change event arrives: the batch is
   * read back from the execution's own `Batch` parameter (no state kept between invocations), the
   * child found in the database account, and its per-action results read.
   */
  async collect(parentId: string): Promise<(ExecutorBatch & { results: ActionResult[] }) | undefined> {
    const { AutomationExecution: parent } = await this.s.ssm.send(
      new GetAutomationExecutionCommand({ AutomationExecutionId: parentId }),
    );
    // A run of the document's single-action form (a person in the console) has no batch to collect.
    if (parent?.Parameters?.Action?.[0] !== 'batch') return undefined;
    const batch = JSON.parse((parent.Parameters.Batch ?? []).join('') || '{}') as ExecutorBatch;
    if (!batch.target || !Array.isArray(batch.actions))
      throw new Error(`automation ${parentId} carries no dbusers batch`);
    return { ...batch, results: await this.finish(batch.target, parentId, batch.actions, parent) };
  }

  /** Start one chunk's execution; its id. */
  private async start(target: ClusterSpec, chunk: { id: string; pieces: string[] }): Promise<string> {
    const started = await this.s.ssm.send(
      new StartAutomationExecutionCommand({
        DocumentName: this.s.documentName,
        Parameters: {
          LambdaFunctionName: [this.s.lambdaFunctionName],
          Action: ['batch'],
          Batch: chunk.pieces,
          ...(this.s.automationAssumeRole ? { AutomationAssumeRole: [this.s.automationAssumeRole] } : {}),
        },
        // The same commit, target and plan give the same token: a redelivered event never starts a second run.
        ClientToken: uuidFrom(chunk.id),
        TargetLocations: [
          {
            Accounts: [target.account],
            Regions: [target.region],
            ExecutionRoleName: this.role,
            TargetLocationMaxConcurrency: '1',
            TargetLocationMaxErrors: '0',
          },
        ],
      }),
    );
    return started.AutomationExecutionId!;
  }

  /** Wait for (or, when its event came, read) the parent, then the child, and read the per-action results. */
  private async finish(
    target: ClusterSpec,
    parentId: string,
    actions: readonly Action[],
    ended?: AutomationExecution,
  ): Promise<ActionResult[]> {
    const parent = ended ?? (await this.waitFor(this.s.ssm, parentId));
    if (!parent)
      return allFailed(
        actions,
        `automation ${parentId} did not finish before the deadline; it may still run`,
      );
    const { ssm } = this.clients(target.account, target.region);
    const children = await ssm.send(
      new DescribeAutomationExecutionsCommand({
        Filters: [{ Key: 'ParentExecutionId', Values: [parentId] }],
      }),
    );
    const childId = children.AutomationExecutionMetadataList?.[0]?.AutomationExecutionId;
    if (!childId)
      return allFailed(
        actions,
        `automation ${parentId} ended ${parent.AutomationExecutionStatus} without running in ${target.account}/${target.region}: ${parent.FailureMessage ?? 'no failure message'}`,
      );
    // The parent ends after its child: once it has, one read of the child suffices.
    const child = await this.waitFor(ssm, childId, !ended);
    if (!child)
      return allFailed(
        actions,
        `automation ${childId} in ${target.account} did not finish before the deadline`,
      );
    return readResults(child, actions);
  }

  /** Poll with growing waits until the execution ends or the deadline passes (once, when not waiting). */
  private async waitFor(
    ssm: SSMClient,
    id: string,
    patient = true,
  ): Promise<AutomationExecution | undefined> {
    const poll = this.s.poll ?? { initialMs: 2_000, maxMs: 15_000, deadlineMs: 15 * 60_000 };
    const sleep = poll.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
    let waited = 0;
    for (let wait = poll.initialMs; ; wait = Math.min(poll.maxMs, Math.round(wait * 1.5))) {
      const { AutomationExecution: e } = await ssm.send(
        new GetAutomationExecutionCommand({ AutomationExecutionId: id }),
      );
      if (e && TERMINAL.has(e.AutomationExecutionStatus ?? '')) return e;
      if (!patient || waited >= poll.deadlineMs) return undefined;
      await sleep(wait);
      waited += wait;
    }
  }
}

/**
 * Per-action results from the child execution: the executor's result is the step's Payload output
 * on success, and the error message of a failed invocation (ExecutorFailedError carries the results).
 */
export function readResults(child: AutomationExecution, actions: readonly Action[]): ActionResult[] {
  const step = child.StepExecutions?.find((s) => s.StepName === 'invokeBatch');
  const payload = child.Outputs?.['invokeBatch.Payload']?.[0] ?? step?.Outputs?.Payload?.[0];
  for (const text of [
    payload,
    // biome-ignore lint/complexity/useLiteralKeys: Details is an index signature; tsc's noPropertyAccessFromIndexSignature wants brackets
    step?.FailureDetails?.Details?.['VerboseMessage']?.[0],
    step?.FailureMessage,
  ]) {
    const result = parseResult(text);
    if (result) return result.results;
  }
  if (SUCCEEDED.has(child.AutomationExecutionStatus ?? ''))
    return allFailed(actions, 'the automation succeeded but returned no per-action results');
  return allFailed(
    actions,
    `automation ${child.AutomationExecutionId} ${child.AutomationExecutionStatus}: ${step?.FailureMessage ?? child.FailureMessage ?? 'no message'}`,
  );
}

function parseResult(text: string | undefined): BatchResult | undefined {
  if (!text) return undefined;
  try {
    let value = JSON.parse(text) as unknown;
    // A failed invocation's payload is {errorType, errorMessage}; the message is the result JSON.
    const message = (value as { errorMessage?: string })?.errorMessage;
    if (message) value = JSON.parse(message);
    return Array.isArray((value as BatchResult)?.results) ? (value as BatchResult) : undefined;
  } catch {
    const start = text.indexOf('{"cluster"');
    return start >= 0 ? parseResult(text.slice(start, text.lastIndexOf('}') + 1)) : undefined;
  }
}
