/** What the executor receives and returns: plain JSON, the same in-process and through SSM. */
import type { Action, ClusterSpec } from './types.js';

/** How the executor behaves where a choice is a matter of policy. */
export interface ExecutorOptions {
  /** Stop running actions after this many failures; the rest are reported as not run. */
  maxFailures: number;
  /** Refuse (default) or only warn when a user to drop is the DEFINER of views, routines, triggers or events. */
  definers: 'refuse' | 'warn';
  /** Days a deleted secret stays recoverable. */
  recoveryDays: number;
  /**
   * When the server has no AWSAuthenticationPlugin (a local MariaDB): 'fail' (AWS), or 'lock' to
   * create the IAM user locked, so grants can still be tried locally.
   */
  iamFallback: 'fail' | 'lock';
  /**
   * Write secrets the way the seed's Lambda does as well (its `create_by_user_automation` and
   * `creation_timestamp` tags, a `db_name` key), so tools built on the seed keep working.
   */
  seedSecrets?: boolean;
  /** The server closes the admin session after this many idle seconds, releasing the cluster lock of a hung run. */
  sessionTimeoutSeconds: number;
}

export const DEFAULT_EXECUTOR_OPTIONS: ExecutorOptions = {
  maxFailures: 5,
  definers: 'refuse',
  recoveryDays: 7,
  iamFallback: 'fail',
  sessionTimeoutSeconds: 300,
};

/** One batch: every action of one plan for one cluster. */
export interface ExecutorBatch {
  /**
   * Idempotency key (derived from commit, target and plan): a batch whose id already succeeded is
   * answered from the record instead of running again, as EventBridge and SSM may deliver twice.
   */
  id?: string;
  target: ClusterSpec;
  actions: Action[];
  options?: Partial<ExecutorOptions>;
}

/** The outcome of one action. Never holds a password. */
export interface ActionResult {
  kind: Action['kind'];
  user: string;
  host: string;
  /** refused: the executor's own rules forbid it (protected, not owned, privilege policy, malformed). */
  status: 'ok' | 'failed' | 'refused' | 'not run';
  message: string;
  warnings?: string[];
  /** How long the action took, for logs and metrics. */
  durationMs?: number;
}

/** The outcome of a batch. */
export interface BatchResult {
  cluster: string;
  ok: boolean;
  results: ActionResult[];
  /** True when this is the recorded result of an earlier delivery of the same batch. */
  replayed?: boolean;
  /** Started and not yet finished: the executions whose status-change events will bring the results. */
  started?: string[];
}
