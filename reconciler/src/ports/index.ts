/**
 * The small interfaces every external system sits behind, in dbusers' own words. Each has an AWS
 * adapter and a local one; the database has one adapter only, a real server.
 */
import type { ActualState, ClusterSpec, ObjectRef, SecretMeta } from '../model/types.js';
import type { BatchResult, ExecutorBatch } from '../model/batch.js';

/** A file the source could not read as text, and why: reported at its 1:1. */
export interface UnreadableFile {
  code: 'ENCODING' | 'FILE';
  reason: string;
}

/** The YAML desired state at a given revision. */
export interface SourceRepo {
  /** Every `users/*.yaml` file: path (as shown in diagnostics) → text, or why it could not be read. */
  readTree(revision?: string): Promise<Map<string, string | UnreadableFile>>;
  /** The folder read, as diagnostics name it when it holds no account file (default `users`). */
  readonly folder?: string;
  /** The account files that differ between two revisions (a push reconciles only their targets). */
  changedFiles?(from: string, to: string): Promise<string[]>;
  /** The commit two revisions last shared (a pull request's changes are those since it). */
  mergeBase?(a: string, b: string): Promise<string>;
}

/** The RDS credentials JSON AWS's rotation functions read. */
export interface RdsCredentials {
  engine: string;
  host: string;
  port: number;
  username: string;
  password: string;
  dbname?: string;
  masterarn?: string;
  [extra: string]: unknown;
}

/** Raised for a secret whose value is not the JSON expected; the message never holds the value. */
export class SecretFormatError extends Error {
  override name = 'SecretFormatError';
}

/**
 * A secret's JSON text, parsed. JSON.parse's own message quotes the text it read, which would put a
 * password (a secret someone stored as plain text) into logs, events and SSM outputs.
 */
export function secretJson<T>(text: string, secretName: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new SecretFormatError(`secret ${secretName} does not hold valid JSON; its value is not shown`);
  }
}

/** Metadata given when a secret is first made. */
export interface SecretSpec {
  name: string;
  description: string;
  tags: Record<string, string>;
  /** The cluster's master secret: the new secret inherits its tags, resource policy and KMS key. */
  masterSecretArn?: string;
}

/** What inspection's readMany returns: metadata by name, and AWSCURRENT values by name. */
export interface SecretsRead {
  metas: Record<string, SecretMeta>;
  values: Record<string, RdsCredentials>;
}

/** Secrets with version stages, as Secrets Manager keeps them. Reads never mutate; create and delete are idempotent. */
export interface SecretStore {
  describe(name: string): Promise<SecretMeta | undefined>;
  /**
   * Inspection's read: the metadata of `names`, and the AWSCURRENT values of `valuesOf` (password
   * drift checks; missing ones are left out), each secret read once where the store can.
   */
  readMany(names: readonly string[], valuesOf: readonly string[]): Promise<SecretsRead>;
  /**
   * Make the secret with no version if it does not exist (restore it if it is scheduled for
   * deletion). Returns its metadata as found before that, so callers need not describe it first.
   */
  ensure(spec: SecretSpec): Promise<SecretMeta | undefined>;
  /** A version by stage, or by id (a rotation's ClientRequestToken). */
  getValue(
    name: string,
    stage: 'AWSCURRENT' | 'AWSPENDING' | { versionId: string },
  ): Promise<RdsCredentials | undefined>;
  /** The stages of one version (a rotation's ClientRequestToken); undefined when the secret has no such version. */
  versionStages(name: string, versionId: string): Promise<readonly string[] | undefined>;
  /**
   * Write a new value under AWSPENDING, replacing an earlier pending value; `versionId` (a rotation's
   * ClientRequestToken) names the version, else one is made. Returns the version id.
   */
  putPending(
    name: string,
    value: RdsCredentials,
    versionId?: string,
    rotationToken?: string,
  ): Promise<string>;
  /**
   * Move AWSCURRENT to the pending version (the old current becomes AWSPREVIOUS). The first time a
   * secret gets a current version, its rotation is turned on where the store rotates (never before:
   * a rotation of a secret with no user behind it can only fail).
   */
  promotePending(name: string): Promise<void>;
  /**
   * The key that signs ownership-registry rows, kept in the store (never on the database server).
   * With `create`, made on first use; without, undefined when there is none yet.
   */
  registryKey(create: boolean): Promise<string | undefined>;
  /** Schedule deletion with a recovery window; never forced. */
  scheduleDeletion(name: string, recoveryDays: number): Promise<void>;
  /** A new password with characters that need no escaping anywhere. */
  randomPassword(): Promise<string>;
}

/**
 * Reaches the executor where the database lives (in-process, or in the target account): reads a
 * cluster's actual state and runs batches. The reconciler never holds another account's credentials.
 */
export interface Dispatcher {
  /** How many targets this dispatcher serves well at once (reconcile()'s default concurrency). */
  readonly concurrency?: number;
  /** Read a cluster: the named secrets' metadata, and which of the named tables and routines are missing. */
  inspect(
    cluster: ClusterSpec,
    secretNames: readonly string[],
    objects?: readonly ObjectRef[],
  ): Promise<ActualState>;
  dispatch(batch: ExecutorBatch): Promise<BatchResult>;
}

/** A pull request, as a comment is posted on it. */
export interface PullRequestRef {
  pullRequestId: string;
  repository: string;
  sourceCommit: string;
  destinationCommit: string;
}

/** dbusers' one comment on a pull request, kept up to date (CodeCommit, or stdout). */
export interface PullRequestComments {
  /** Post the comment, or update the one posted before; says which. */
  upsert(pr: PullRequestRef, content: string): Promise<'posted' | 'updated' | 'unchanged'>;
}

/** The plan a merged pull request showed its reviewers: its id and the digest per target (`alias/cluster`). */
export interface Review {
  pullRequest: string;
  digests: Record<string, string>;
}

/** Finds the review of a pushed commit: the merged pull request that produced it, and its plan comment. */
export interface ReviewSource {
  reviewOf(commit: string): Promise<Review | undefined>;
}

/** Where results are published (EventBridge, or stdout). */
export interface EventSink {
  publish(event: { type: string; detail: Record<string, unknown> }): Promise<void>;
}
export type { ConnectionSpec, Database } from './database.js';
