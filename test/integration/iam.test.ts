/**
 * IAM authentication: the application helper surfaces every failure, and the executor can connect
 * with an IAM token instead of a master password. Tokens are signed locally from static test
 * credentials; no AWS call is made.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectionSpec } from '../../reconciler/src/adapters/mysql/database.js';
import { connect, IamConnectError } from '../../reconciler/src/connect.js';
import { makeExecutorHandler } from '../../reconciler/src/handlers/executor.js';
import { awsExecutorDeps, connectRds } from '../../reconciler/src/handlers/executor-lambda.js';
import { fakeSecretsManager } from '../support/fake-secrets-manager.js';
import { startTestServer, type TestServer } from '../support/server.js';

const credentials = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
};
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.stop();
});

describe('connect() for applications', () => {
  it('refuses a server without verified TLS, saying where and as whom', async () => {
    const error = await connect({
      hostname: server.spec.host,
      port: server.spec.port,
      username: 'app_iam',
      region: 'eu-west-1',
      credentials,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IamConnectError);
    expect((error as Error).message).toContain(`${server.spec.host}:${server.spec.port} as app_iam`);
  });
});

describe("the executor's own connections", () => {
  it('insist on TLS verified against the RDS CA: a server without it is refused', async () => {
    await expect(connectRds({ ...server.spec })).rejects.toThrow(/secure connection|SSL|TLS/i);
  });
});

describe('executor with an IAM admin', () => {
  it('connects with a signed token for the configured user and never reads a master password', async () => {
    const seen: ConnectionSpec[] = [];
    const sm = fakeSecretsManager();
    const prev = { ...process.env };
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_REGION: 'eu-west-1',
    });
    try {
      const target = {
        name: 'orders',
        account: '111122223333',
        alias: 'p',
        region: 'eu-west-1',
        engine: 'aurora-mysql' as const,
        endpoint: 'orders.cluster-abc.eu-west-1.rds.amazonaws.com',
        port: 3306,
        masterSecretArn: 'orders-master',
        databases: ['orders'],
      };
      const handler = makeExecutorHandler(
        awsExecutorDeps({
          secretsClient: sm.client,
          env: { DBUSERS_ADMIN_IAM_USER: 'dbusers_admin', DBUSERS_CLUSTERS: JSON.stringify([target]) },
          connect: async (spec) => {
            seen.push(spec);
            throw new Error('stop here');
          },
        }),
      );
      await expect(handler({ action: 'inspect', target } as never)).rejects.toThrow('stop here');
    } finally {
      process.env = prev;
      sm.mock.restore();
    }
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      host: 'orders.cluster-abc.eu-west-1.rds.amazonaws.com',
      port: 3306,
      user: 'dbusers_admin',
    });
    expect(seen[0]!.password).toMatch(
      /^orders\.cluster-abc\.eu-west-1\.rds\.amazonaws\.com:3306\/\?Action=connect&DBUser=dbusers_admin&X-Amz-/,
    );
    expect(sm.mock.calls()).toHaveLength(0);
  });
});
