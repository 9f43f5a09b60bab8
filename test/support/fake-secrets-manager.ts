/**
 * Secrets Manager at the SDK boundary: aws-sdk-client-mock answering each command from a small
 * in-memory model of secrets and version stages, so that code reading back what it wrote (the
 * executor's reset protocol) can be tested end to end. Every request stays inspectable.
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
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { randomUUID } from 'node:crypto';

interface FakeSecret {
  name: string;
  arn: string;
  tags: { Key: string; Value: string }[];
  versions: Map<string, { value: string; stages: string[] }>;
  deleted?: Date;
  policy?: string;
  rotation?: { lambda: string; days: number };
  kmsKeyId?: string;
}

const notFound = () =>
  Object.assign(new Error("Secrets Manager can't find the specified secret."), {
    name: 'ResourceNotFoundException',
  });

/** A mocked client with state; `secrets` is the state, `mock` the aws-sdk-client-mock handle. */
export function fakeSecretsManager(region = 'eu-west-1', account = '111122223333') {
  const mock = mockClient(SecretsManagerClient);
  const secrets = new Map<string, FakeSecret>();
  const find = (id: string | undefined) => [...secrets.values()].find((s) => s.name === id || s.arn === id);
  const must = (id: string | undefined) =>
    find(id) ??
    (() => {
      throw notFound();
    })();
  const stages = (s: FakeSecret) =>
    Object.fromEntries([...s.versions].filter(([, v]) => v.stages.length).map(([id, v]) => [id, v.stages]));
  let passwords = 0;
  const failures = new Map<string, Error>();
  /** Answer through `fake`, unless a failure is queued for this command. */
  const guard =
    <I, O>(command: string, fake: (input: I) => O) =>
    (input: I): O => {
      const error = failures.get(command);
      if (error) {
        failures.delete(command);
        throw error;
      }
      return fake(input);
    };
  /** Make the next call of `command` fail, as a crash or a fault there would. */
  const failNext = (command: string, error: Error) => failures.set(command, error);

  /** Add a secret as if made outside dbusers (the master secret). */
  const seed = (name: string, value: unknown, extra: Partial<FakeSecret> = {}) => {
    const s: FakeSecret = {
      name,
      arn: `arn:aws:secretsmanager:${region}:${account}:secret:${name}-AbCdEf`,
      tags: [],
      versions: new Map([[randomUUID(), { value: JSON.stringify(value), stages: ['AWSCURRENT'] }]]),
      ...extra,
    };
    secrets.set(name, s);
    return s;
  };

  mock.on(DescribeSecretCommand).callsFake(
    guard('DescribeSecretCommand', ({ SecretId }) => {
      const s = must(SecretId);
      return {
        ARN: s.arn,
        Name: s.name,
        Tags: s.tags,
        VersionIdsToStages: stages(s),
        DeletedDate: s.deleted,
        RotationEnabled: !!s.rotation,
        KmsKeyId: s.kmsKeyId,
        LastChangedDate: new Date('2026-11-01T00:00:00Z'),
      };
    }),
  );
  mock.on(ListSecretsCommand).callsFake(
    guard('ListSecretsCommand', () => ({
      SecretList: [...secrets.values()]
        .filter((s) => s.tags.some((t) => t.Key === 'managed-by' && t.Value === 'dbusers'))
        .map((s) => ({
          ARN: s.arn,
          Name: s.name,
          Tags: s.tags,
          SecretVersionsToStages: stages(s),
          DeletedDate: s.deleted,
          RotationEnabled: !!s.rotation,
        })),
    })),
  );
  mock.on(CreateSecretCommand).callsFake(
    guard('CreateSecretCommand', ({ Name, Tags, KmsKeyId, SecretString }) => {
      if (find(Name)) throw Object.assign(new Error('exists'), { name: 'ResourceExistsException' });
      const versions = new Map(
        SecretString === undefined ? [] : [[randomUUID(), { value: SecretString, stages: ['AWSCURRENT'] }]],
      );
      const s: FakeSecret = {
        name: Name!,
        arn: `arn:aws:secretsmanager:${region}:${account}:secret:${Name}-Zz9Yx8`,
        tags: (Tags ?? []) as FakeSecret['tags'],
        versions,
        kmsKeyId: KmsKeyId,
      };
      secrets.set(Name!, s);
      return { ARN: s.arn, Name: s.name };
    }),
  );
  mock.on(GetSecretValueCommand).callsFake(
    guard('GetSecretValueCommand', ({ SecretId, VersionStage, VersionId }) => {
      const s = must(SecretId);
      if (s.deleted)
        throw Object.assign(new Error('marked for deletion'), { name: 'InvalidRequestException' });
      const v = VersionId
        ? [...s.versions].find(([id]) => id === VersionId)
        : [...s.versions].find(([, x]) => x.stages.includes(VersionStage ?? 'AWSCURRENT'));
      if (!v) throw notFound();
      return {
        ARN: s.arn,
        Name: s.name,
        VersionId: v[0],
        SecretString: v[1].value,
        VersionStages: v[1].stages,
      };
    }),
  );
  mock.on(BatchGetSecretValueCommand).callsFake(
    guard('BatchGetSecretValueCommand', ({ SecretIdList }) => ({
      SecretValues: (SecretIdList ?? []).flatMap((id: string) => {
        const s = find(id);
        const v =
          s && !s.deleted ? [...s.versions.values()].find((x) => x.stages.includes('AWSCURRENT')) : undefined;
        return s && v ? [{ ARN: s.arn, Name: s.name, SecretString: v.value, VersionStages: v.stages }] : [];
      }),
      Errors: [],
    })),
  );
  mock.on(PutSecretValueCommand).callsFake(
    guard('PutSecretValueCommand', ({ SecretId, ClientRequestToken, SecretString, VersionStages }) => {
      const s = must(SecretId);
      for (const stage of VersionStages ?? ['AWSCURRENT'])
        for (const v of s.versions.values()) v.stages = v.stages.filter((x) => x !== stage);
      s.versions.set(ClientRequestToken ?? randomUUID(), {
        value: SecretString!,
        stages: VersionStages ?? ['AWSCURRENT'],
      });
      return { ARN: s.arn, VersionId: ClientRequestToken };
    }),
  );
  mock.on(UpdateSecretVersionStageCommand).callsFake(
    guard(
      'UpdateSecretVersionStageCommand',
      ({ SecretId, VersionStage, MoveToVersionId, RemoveFromVersionId }) => {
        const s = must(SecretId);
        if (RemoveFromVersionId) {
          const v = s.versions.get(RemoveFromVersionId)!;
          v.stages = v.stages.filter((x) => x !== VersionStage);
          if (VersionStage === 'AWSCURRENT') v.stages.push('AWSPREVIOUS');
        }
        if (MoveToVersionId) {
          if (VersionStage === 'AWSCURRENT')
            for (const v of s.versions.values())
              if (v !== s.versions.get(RemoveFromVersionId ?? ''))
                v.stages = v.stages.filter((x) => x !== 'AWSPREVIOUS');
          s.versions.get(MoveToVersionId)!.stages.push(VersionStage!);
        }
        return { ARN: s.arn };
      },
    ),
  );
  mock.on(DeleteSecretCommand).callsFake(
    guard('DeleteSecretCommand', ({ SecretId }) => {
      const s = must(SecretId);
      s.deleted = new Date('2026-11-23T00:00:00Z');
      return { ARN: s.arn, DeletionDate: new Date('2026-11-30T00:00:00Z') };
    }),
  );
  mock.on(RestoreSecretCommand).callsFake(
    guard('RestoreSecretCommand', ({ SecretId }) => {
      const s = must(SecretId);
      delete s.deleted;
      return { ARN: s.arn };
    }),
  );
  mock.on(GetResourcePolicyCommand).callsFake(
    guard('GetResourcePolicyCommand', ({ SecretId }) => ({
      ARN: must(SecretId).arn,
      ResourcePolicy: must(SecretId).policy,
    })),
  );
  mock.on(PutResourcePolicyCommand).callsFake(
    guard('PutResourcePolicyCommand', ({ SecretId, ResourcePolicy }) => {
      must(SecretId).policy = ResourcePolicy;
      return { ARN: must(SecretId).arn };
    }),
  );
  mock.on(RotateSecretCommand).callsFake(
    guard('RotateSecretCommand', ({ SecretId, RotationLambdaARN, RotationRules }) => {
      must(SecretId).rotation = { lambda: RotationLambdaARN!, days: RotationRules!.AutomaticallyAfterDays! };
      return { ARN: must(SecretId).arn };
    }),
  );
  mock.on(GetRandomPasswordCommand).callsFake(
    guard('GetRandomPasswordCommand', () => ({
      RandomPassword: `Gen${++passwords}-aBcDeFgHiJkLmNoPqRsTuVwXyZ0123`.slice(0, 32),
    })),
  );
  return { mock, secrets, seed, failNext, client: new SecretsManagerClient({ region }) };
}
