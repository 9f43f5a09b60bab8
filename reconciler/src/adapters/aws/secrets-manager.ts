/**
 * The secret store on AWS Secrets Manager, as the seed's blog describes it: one secret per password
 * user holding the RDS credentials JSON, inheriting the master secret's tags, resource policy and
 * KMS key, rotated by the configured rotation Lambda. Passwords move through version stages
 * (AWSPENDING → AWSCURRENT) so that a reset can never lock a user out.
 */
import {
  BatchGetSecretValueCommand,
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetResourcePolicyCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutResourcePolicyCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
  type DescribeSecretResponse,
} from '@aws-sdk/client-secrets-manager';
import { randomUUID } from 'node:crypto';
import type { SecretMeta } from '../../model/types.js';
import {
  secretJson,
  type RdsCredentials,
  type SecretSpec,
  type SecretStore,
  type SecretsRead,
} from '../../ports/index.js';
import { RETRY_CONFIG } from './clients.js';

/** How the store is set up in a database account. */
export interface SecretsManagerSettings {
  client?: SecretsManagerClient;
  /** `ROTATION_LAMBDA_ARN`: rotation is enabled on every new secret when set. */
  rotationLambdaArn?: string;
  /** `ROTATION_DAYS`, default 30. */
  rotationDays?: number;
}

/** Raised when Secrets Manager refuses a call that is not a transient fault. */
export class SecretStoreError extends Error {
  override name = 'SecretStoreError';
  constructor(
    message: string,
    readonly secretName: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The secret holding the registry signing key, one per account (the registry's rows name their cluster). */
export const REGISTRY_KEY_SECRET = 'dbusers/registry-key';

/** GetRandomPassword's punctuation but - . _ (the local store's alphabet: see generatePassword). */
const EXCLUDED_PUNCTUATION = '!"#$%&\'()*+,/:;<=>?@[\\]^`{|}~';

const isNotFound = (e: unknown) => (e as { name?: string })?.name === 'ResourceNotFoundException';

/** Secrets Manager behind the SecretStore port. */
export class SecretsManagerStore implements SecretStore {
  private readonly client: SecretsManagerClient;

  constructor(private readonly settings: SecretsManagerSettings = {}) {
    this.client = settings.client ?? new SecretsManagerClient(RETRY_CONFIG);
  }

  /** One call; the client retries throttling itself (RETRY_CONFIG). Errors say which secret and step. */
  private async call<T>(name: string, what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (cause) {
      if (isNotFound(cause)) throw cause;
      throw new SecretStoreError(`secret ${name}: ${what}: ${(cause as Error).message}`, name, { cause });
    }
  }

  private async describeRaw(name: string): Promise<DescribeSecretResponse | undefined> {
    try {
      return await this.call(name, 'describe', () =>
        this.client.send(new DescribeSecretCommand({ SecretId: name })),
      );
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async describe(name: string): Promise<SecretMeta | undefined> {
    const d = await this.describeRaw(name);
    // By name even when asked by ARN (a rotation event names the secret by ARN).
    return d ? toMeta(d.Name ?? name, d) : undefined;
  }

  /** Metadata by ListSecrets, values by BatchGetSecretValue: two APIs, so two reads. */
  async readMany(names: readonly string[], valuesOf: readonly string[]): Promise<SecretsRead> {
    return {
      metas: names.length > 0 ? await this.describeMany(names) : {},
      values: valuesOf.length > 0 ? await this.currentValues(valuesOf) : {},
    };
  }

  /** One paginated ListSecrets over the secrets dbusers tagged, instead of one call per secret. */
  private async describeMany(names: readonly string[]): Promise<Record<string, SecretMeta>> {
    const wanted = new Set(names);
    const out: Record<string, SecretMeta> = {};
    let NextToken: string | undefined;
    do {
      const page = await this.call('*', 'list', () =>
        this.client.send(
          new ListSecretsCommand({
            Filters: [
              { Key: 'tag-key', Values: ['managed-by'] },
              { Key: 'tag-value', Values: ['dbusers'] },
            ],
            IncludePlannedDeletion: true,
            MaxResults: 100,
            NextToken,
          }),
        ),
      );
      for (const s of page.SecretList ?? []) {
        if (s.Name && wanted.has(s.Name))
          out[s.Name] = toMeta(s.Name, { ...s, VersionIdsToStages: s.SecretVersionsToStages });
      }
      NextToken = page.NextToken;
    } while (NextToken);
    return out;
  }

  async ensure(spec: SecretSpec): Promise<SecretMeta | undefined> {
    const existing = await this.describeRaw(spec.name);
    if (existing) {
      if (existing.DeletedDate)
        await this.call(spec.name, 'restore', () =>
          this.client.send(new RestoreSecretCommand({ SecretId: spec.name })),
        );
      return toMeta(spec.name, existing);
    }
    const master = spec.masterSecretArn ? await this.describeRaw(spec.masterSecretArn) : undefined;
    const inherited = (master?.Tags ?? []).filter(
      (t) => t.Key && !t.Key.startsWith('aws:') && !(t.Key in spec.tags),
    );
    // No SecretString: the secret starts with no version, so no password exists before the pending one.
    const created = await this.call(spec.name, 'create', () =>
      this.client.send(
        new CreateSecretCommand({
          Name: spec.name,
          Description: spec.description,
          KmsKeyId: master?.KmsKeyId,
          Tags: [...Object.entries(spec.tags).map(([Key, Value]) => ({ Key, Value })), ...inherited],
        }),
      ),
    );
    if (spec.masterSecretArn) {
      const policy = await this.call(spec.name, 'read the master secret policy', () =>
        this.client.send(new GetResourcePolicyCommand({ SecretId: spec.masterSecretArn })),
      );
      if (policy.ResourcePolicy) {
        await this.call(spec.name, 'put resource policy', () =>
          this.client.send(
            new PutResourcePolicyCommand({
              SecretId: created.ARN ?? spec.name,
              ResourcePolicy: policy
                .ResourcePolicy!.split(master?.ARN ?? spec.masterSecretArn!)
                .join(created.ARN ?? spec.name),
              BlockPublicPolicy: true,
            }),
          ),
        );
      }
    }
    return undefined;
  }

  async getValue(
    name: string,
    stage: 'AWSCURRENT' | 'AWSPENDING' | { versionId: string },
  ): Promise<RdsCredentials | undefined> {
    const which = typeof stage === 'object' ? { VersionId: stage.versionId } : { VersionStage: stage };
    try {
      const v = await this.call(
        name,
        `read ${typeof stage === 'object' ? `version ${stage.versionId}` : stage}`,
        () => this.client.send(new GetSecretValueCommand({ SecretId: name, ...which })),
      );
      return v.SecretString ? secretJson<RdsCredentials>(v.SecretString, name) : undefined;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async versionStages(name: string, versionId: string): Promise<readonly string[] | undefined> {
    return (await this.describeRaw(name))?.VersionIdsToStages?.[versionId];
  }

  /** BatchGetSecretValue, 20 secrets a call (its limit for SecretIdList). */
  private async currentValues(names: readonly string[]): Promise<Record<string, RdsCredentials>> {
    const out: Record<string, RdsCredentials> = {};
    for (let i = 0; i < names.length; i += 20) {
      const SecretIdList = names.slice(i, i + 20);
      const page = await this.call('*', 'batch read current values', () =>
        this.client.send(new BatchGetSecretValueCommand({ SecretIdList })),
      );
      for (const v of page.SecretValues ?? [])
        if (v.Name && v.SecretString) out[v.Name] = secretJson<RdsCredentials>(v.SecretString, v.Name);
    }
    return out;
  }

  async putPending(
    name: string,
    value: RdsCredentials,
    versionId: string = randomUUID(),
    rotationToken?: string,
  ): Promise<string> {
    // The same ClientRequestToken twice is idempotent in Secrets Manager: a retried write adds no version.
    await this.call(name, 'put pending version', () =>
      this.client.send(
        new PutSecretValueCommand({
          SecretId: name,
          ClientRequestToken: versionId,
          SecretString: JSON.stringify(value),
          VersionStages: ['AWSPENDING'],
          // Inside a rotation Secrets Manager checks who writes with this token.
          ...(rotationToken ? { RotationToken: rotationToken } : {}),
        }),
      ),
    );
    return versionId;
  }

  async registryKey(create: boolean): Promise<string | undefined> {
    const read = async () => {
      try {
        const v = await this.call(REGISTRY_KEY_SECRET, 'read', () =>
          this.client.send(new GetSecretValueCommand({ SecretId: REGISTRY_KEY_SECRET })),
        );
        return v.SecretString;
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    };
    const found = await read();
    if (found || !create) return found;
    const key = await this.randomPassword(64);
    try {
      await this.call(REGISTRY_KEY_SECRET, 'create', () =>
        this.client.send(
          new CreateSecretCommand({
            Name: REGISTRY_KEY_SECRET,
            SecretString: key,
            Description:
              'Signs the rows of the dbusers ownership registry on every cluster of this account (managed by dbusers)',
            Tags: [{ Key: 'managed-by', Value: 'dbusers' }],
          }),
        ),
      );
      return key;
    } catch (error) {
      // Another run made it first: use theirs.
      if (
        (error as SecretStoreError).cause &&
        (error as { cause: { name?: string } }).cause.name === 'ResourceExistsException'
      )
        return read();
      throw error;
    }
  }

  async promotePending(name: string): Promise<void> {
    const d = await this.describeRaw(name);
    const stages = Object.entries(d?.VersionIdsToStages ?? {});
    const pending = stages.find(([, s]) => s.includes('AWSPENDING') && !s.includes('AWSCURRENT'))?.[0];
    const current = stages.find(([, s]) => s.includes('AWSCURRENT'))?.[0];
    if (!pending) return; // already promoted: idempotent
    await this.call(name, 'promote pending to current', () =>
      this.client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: pending,
          RemoveFromVersionId: current,
        }),
      ),
    );
    await this.call(name, 'clear the pending label', () =>
      this.client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: 'AWSPENDING',
          RemoveFromVersionId: pending,
        }),
      ),
    );
    // Rotation only once a user holds the current password: rotating an empty secret can only fail.
    if (this.settings.rotationLambdaArn && !d?.RotationEnabled) {
      await this.call(name, 'enable rotation', () =>
        this.client.send(
          new RotateSecretCommand({
            SecretId: d?.ARN ?? name,
            RotationLambdaARN: this.settings.rotationLambdaArn,
            RotationRules: { AutomaticallyAfterDays: this.settings.rotationDays ?? 30 },
            // The password was just set and tested: do not rotate it away at once (the API default is true).
            RotateImmediately: false,
          }),
        ),
      );
    }
  }

  async scheduleDeletion(name: string, recoveryDays: number): Promise<void> {
    const d = await this.describeRaw(name);
    if (!d || d.DeletedDate) return;
    await this.call(name, 'schedule deletion', () =>
      this.client.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: recoveryDays })),
    );
  }

  async randomPassword(length = 32): Promise<string> {
    const r = await this.call('*', 'generate a password', () =>
      this.client.send(
        new GetRandomPasswordCommand({
          PasswordLength: length,
          // Of punctuation, only - . _ (the local store's alphabet): at least one of them, as password
          // validation plugins ask (MySQL's validate_password MEDIUM policy, MariaDB's simple_password_check).
          ExcludeCharacters: EXCLUDED_PUNCTUATION,
          RequireEachIncludedType: true,
        }),
      ),
    );
    if (!r.RandomPassword) throw new SecretStoreError('GetRandomPassword returned no password', '*');
    return r.RandomPassword;
  }
}

function toMeta(name: string, d: Omit<DescribeSecretResponse, '$metadata'>): SecretMeta {
  const stages = Object.values(d.VersionIdsToStages ?? {});
  return {
    name,
    arn: d.ARN,
    tags: Object.fromEntries((d.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
    changedAt: d.LastChangedDate ? Math.floor(d.LastChangedDate.getTime() / 1000) : undefined,
    hasCurrent: stages.some((s) => s.includes('AWSCURRENT')),
    hasPending: stages.some((s) => s.includes('AWSPENDING') && !s.includes('AWSCURRENT')),
    rotationEnabled: d.RotationEnabled === true,
    deleted: d.DeletedDate !== undefined,
  };
}
