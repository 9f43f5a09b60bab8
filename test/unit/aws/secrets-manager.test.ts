import {
  BatchGetSecretValueCommand,
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetResourcePolicyCommand,
  GetSecretValueCommand,
  PutResourcePolicyCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { MAX_ATTEMPTS, RETRY_CONFIG } from '../../../reconciler/src/adapters/aws/clients.js';
import { SecretsManagerStore } from '../../../reconciler/src/adapters/aws/secrets-manager.js';
import { SecretFormatError } from '../../../reconciler/src/ports/index.js';
import { fakeSecretsManager } from '../../support/fake-secrets-manager.js';

const MASTER = 'orders-master';
const masterPolicy = (arn: string) =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: 'arn:aws:iam::111122223333:role/ops' },
        Action: 'secretsmanager:GetSecretValue',
        Resource: arn,
      },
    ],
  });
const value = {
  engine: 'aurora-mysql',
  host: 'h',
  port: 3306,
  username: 'app',
  password: 'p',
  dbname: 'orders',
};

/** The name and input of every call, in order. */
const calls = (mock: ReturnType<typeof mockClient>) =>
  mock.calls().map((c) => [c.args[0].constructor.name, c.args[0].input]);

afterEach(() => mockClient(SecretsManagerClient).restore());

describe('SecretsManagerStore', () => {
  it("creates a secret with no version, inheriting the master secret's tags, KMS key and policy; rotation only once its first password is current", async () => {
    const sm = fakeSecretsManager();
    const master = sm.seed(
      MASTER,
      { username: 'admin', password: 'x' },
      {
        tags: [
          { Key: 'team', Value: 'payments' },
          { Key: 'aws:cloudformation:stack-name', Value: 's' },
        ],
        kmsKeyId: 'alias/db',
      },
    );
    master.policy = masterPolicy(master.arn);
    const store = new SecretsManagerStore({
      client: sm.client,
      rotationLambdaArn: 'arn:aws:lambda:eu-west-1:111122223333:function:rotate',
      rotationDays: 30,
    });
    sm.mock.resetHistory();
    await store.ensure({
      name: 'rds-orders-app-secret',
      description: 'Credentials for app',
      tags: { 'managed-by': 'dbusers' },
      masterSecretArn: master.arn,
    });
    const created = sm.secrets.get('rds-orders-app-secret')!;
    expect(calls(sm.mock)).toEqual([
      ['DescribeSecretCommand', { SecretId: 'rds-orders-app-secret' }],
      ['DescribeSecretCommand', { SecretId: master.arn }],
      [
        'CreateSecretCommand',
        {
          Name: 'rds-orders-app-secret',
          Description: 'Credentials for app',
          KmsKeyId: 'alias/db',
          Tags: [
            { Key: 'managed-by', Value: 'dbusers' },
            { Key: 'team', Value: 'payments' },
          ],
        },
      ],
      ['GetResourcePolicyCommand', { SecretId: master.arn }],
      [
        'PutResourcePolicyCommand',
        { SecretId: created.arn, ResourcePolicy: masterPolicy(created.arn), BlockPublicPolicy: true },
      ],
    ]);
    expect(created.versions.size).toBe(0);
    await store.putPending('rds-orders-app-secret', value, 'first-version');
    expect(sm.mock.commandCalls(RotateSecretCommand)).toHaveLength(0);
    await store.promotePending('rds-orders-app-secret');
    expect(sm.mock.commandCalls(RotateSecretCommand).map((c) => c.args[0].input)).toEqual([
      {
        SecretId: created.arn,
        RotationLambdaARN: 'arn:aws:lambda:eu-west-1:111122223333:function:rotate',
        RotationRules: { AutomaticallyAfterDays: 30 },
        RotateImmediately: false,
      },
    ]);
    await store.putPending('rds-orders-app-secret', value, 'second-version');
    await store.promotePending('rds-orders-app-secret');
    expect(sm.mock.commandCalls(RotateSecretCommand)).toHaveLength(1);
  });

  it('restores a secret scheduled for deletion instead of creating it again', async () => {
    const sm = fakeSecretsManager();
    sm.seed('rds-orders-app-secret', value).deleted = new Date();
    await new SecretsManagerStore({ client: sm.client }).ensure({
      name: 'rds-orders-app-secret',
      description: 'd',
      tags: {},
    });
    expect(sm.mock.commandCalls(RestoreSecretCommand).map((c) => c.args[0].input)).toEqual([
      { SecretId: 'rds-orders-app-secret' },
    ]);
    expect(sm.mock.commandCalls(CreateSecretCommand)).toHaveLength(0);
  });

  it('resets through version stages: pending first, then current, then the pending label cleared', async () => {
    const sm = fakeSecretsManager();
    const s = sm.seed('rds-orders-app-secret', value);
    const current = [...s.versions.keys()][0]!;
    const store = new SecretsManagerStore({ client: sm.client });
    sm.mock.resetHistory();
    await store.putPending('rds-orders-app-secret', { ...value, password: 'new' });
    await store.promotePending('rds-orders-app-secret');
    const put = sm.mock.commandCalls(PutSecretValueCommand)[0]!.args[0].input;
    expect(put).toEqual({
      SecretId: 'rds-orders-app-secret',
      ClientRequestToken: expect.stringMatching(/^[0-9a-f-]{36}$/),
      SecretString: JSON.stringify({ ...value, password: 'new' }),
      VersionStages: ['AWSPENDING'],
    });
    expect(calls(sm.mock).map(([n]) => n)).toEqual([
      'PutSecretValueCommand',
      'DescribeSecretCommand',
      'UpdateSecretVersionStageCommand',
      'UpdateSecretVersionStageCommand',
    ]);
    expect(sm.mock.commandCalls(UpdateSecretVersionStageCommand).map((c) => c.args[0].input)).toEqual([
      {
        SecretId: 'rds-orders-app-secret',
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: put.ClientRequestToken,
        RemoveFromVersionId: current,
      },
      {
        SecretId: 'rds-orders-app-secret',
        VersionStage: 'AWSPENDING',
        RemoveFromVersionId: put.ClientRequestToken,
      },
    ]);
    expect(await store.getValue('rds-orders-app-secret', 'AWSCURRENT')).toMatchObject({ password: 'new' });
    expect((await store.describe('rds-orders-app-secret'))?.hasPending).toBe(false);
  });

  it('leaves retries to the SDK (adaptive mode, 6 attempts in all): throttled answers are retried; a lasting fault is tried 6 times', async () => {
    // Below aws-sdk-client-mock, which skips the SDK's retry middleware: a request handler answering HTTP.
    const answers: number[] = [];
    const client = (statuses: number[]) =>
      new SecretsManagerClient({
        region: 'eu-west-1',
        credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
        ...RETRY_CONFIG,
        requestHandler: {
          handle: async () => {
            const status = statuses.shift() ?? 503;
            answers.push(status);
            const body =
              status === 200
                ? { ARN: 'arn:s', VersionId: 'v' }
                : status === 400
                  ? { __type: 'ThrottlingException', message: 'Rate exceeded' }
                  : { __type: 'ServiceUnavailableException', message: 'Service unavailable' };
            return {
              response: {
                statusCode: status,
                headers: { 'content-type': 'application/x-amz-json-1.1' },
                body: Readable.from([Buffer.from(JSON.stringify(body))]),
              },
            };
          },
        },
      });
    await new SecretsManagerStore({ client: client([400, 400, 200]) }).putPending('s', value);
    expect(answers).toEqual([400, 400, 200]);
    answers.length = 0;
    // A fault that does not go away: MAX_ATTEMPTS tries in all, then the error says where it happened.
    await expect(new SecretsManagerStore({ client: client([]) }).putPending('s', value)).rejects.toThrow(
      'secret s: put pending version: Service unavailable',
    );
    expect(answers).toHaveLength(MAX_ATTEMPTS);
  });

  it('says which secret and step failed, for errors no retry helps', async () => {
    const mock = mockClient(SecretsManagerClient);
    mock
      .on(PutSecretValueCommand)
      .rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    await expect(
      new SecretsManagerStore({ client: new SecretsManagerClient({}) }).putPending('s', value),
    ).rejects.toThrow('secret s: put pending version: denied');
    expect(mock.commandCalls(PutSecretValueCommand)).toHaveLength(1);
  });

  it('refuses a secret value that is not JSON without quoting it: it may be a password stored as plain text', async () => {
    const mock = mockClient(SecretsManagerClient);
    const plain = 'hunter2", "oops';
    mock.on(GetSecretValueCommand).resolves({ Name: 'a', SecretString: plain });
    mock.on(BatchGetSecretValueCommand).resolves({ SecretValues: [{ Name: 'a', SecretString: plain }] });
    const store = new SecretsManagerStore({ client: new SecretsManagerClient({}) });
    for (const read of [() => store.getValue('a', 'AWSCURRENT'), () => store.readMany([], ['a'])]) {
      const error = (await read().catch((e: unknown) => e)) as Error;
      expect(error).toBeInstanceOf(SecretFormatError);
      expect(error.message).toBe('secret a does not hold valid JSON; its value is not shown');
      expect(JSON.stringify(error, Object.getOwnPropertyNames(error))).not.toContain('hunter2');
    }
    expect(calls(mock)).toEqual([
      ['GetSecretValueCommand', { SecretId: 'a', VersionStage: 'AWSCURRENT' }],
      ['BatchGetSecretValueCommand', { SecretIdList: ['a'] }],
    ]);
  });

  it('schedules deletion with a recovery window, never forced, once', async () => {
    const sm = fakeSecretsManager();
    sm.seed('rds-orders-app-secret', value);
    const store = new SecretsManagerStore({ client: sm.client });
    await store.scheduleDeletion('rds-orders-app-secret', 7);
    await store.scheduleDeletion('rds-orders-app-secret', 7);
    expect(sm.mock.commandCalls(DeleteSecretCommand).map((c) => c.args[0].input)).toEqual([
      { SecretId: 'rds-orders-app-secret', RecoveryWindowInDays: 7 },
    ]);
  });

  it('asks GetRandomPassword for letters, digits and one of - . _ at least, as password validation plugins ask', async () => {
    const sm = fakeSecretsManager();
    const password = await new SecretsManagerStore({ client: sm.client }).randomPassword();
    const input = sm.mock.commandCalls(GetRandomPasswordCommand)[0]!.args[0].input;
    expect(input).toEqual({
      PasswordLength: 32,
      ExcludeCharacters: input.ExcludeCharacters,
      RequireEachIncludedType: true,
    });
    // GetRandomPassword's punctuation (its documentation lists these 32), all excluded but - . _.
    const punctuation = [...'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'];
    expect(punctuation.filter((c) => !input.ExcludeCharacters!.includes(c))).toEqual(['-', '.', '_']);
    expect(password).toBe('Gen1-aBcDeFgHiJkLmNoPqRsTuVwXyZ0');
  });

  it('reads a missing secret or stage as undefined, many secrets in one listing and one batch read', async () => {
    const sm = fakeSecretsManager();
    sm.seed('a', value, { tags: [{ Key: 'managed-by', Value: 'dbusers' }] });
    const store = new SecretsManagerStore({ client: sm.client });
    expect(await store.getValue('nope', 'AWSCURRENT')).toBeUndefined();
    expect(await store.getValue('a', 'AWSPENDING')).toBeUndefined();
    expect(await store.describe('nope')).toBeUndefined();
    sm.mock.resetHistory();
    const many = await store.readMany(['a', 'b'], []);
    expect(Object.keys(many.metas)).toEqual(['a']);
    expect(many.metas.a).toMatchObject({ hasCurrent: true, hasPending: false, deleted: false });
    expect(many.values).toEqual({});
    const listing = [
      [
        'ListSecretsCommand',
        {
          Filters: [
            { Key: 'tag-key', Values: ['managed-by'] },
            { Key: 'tag-value', Values: ['dbusers'] },
          ],
          IncludePlannedDeletion: true,
          MaxResults: 100,
          NextToken: undefined,
        },
      ],
    ];
    expect(calls(sm.mock)).toEqual(listing);
    sm.mock.resetHistory();
    // Values of the secrets asked for, 20 to a call (BatchGetSecretValue's limit); missing ones left out.
    const names = ['a', ...Array.from({ length: 20 }, (_, i) => `missing${i}`)];
    const read = await store.readMany(['a'], names);
    expect(read.values).toEqual({ a: value });
    expect(calls(sm.mock)).toEqual([
      ...listing,
      ['BatchGetSecretValueCommand', { SecretIdList: names.slice(0, 20) }],
      ['BatchGetSecretValueCommand', { SecretIdList: names.slice(20) }],
    ]);
    expect(sm.mock.commandCalls(DescribeSecretCommand)).toHaveLength(0);
    expect(sm.mock.commandCalls(GetResourcePolicyCommand)).toHaveLength(0);
    expect(sm.mock.commandCalls(PutResourcePolicyCommand)).toHaveLength(0);
    expect(sm.mock.commandCalls(RotateSecretCommand)).toHaveLength(0);
  });
});
