/**
 * The inspect answer on the wire: a cluster of 10,000 accounts, whose JSON is over Lambda's 6 MB
 * response limit, travels gzipped and comes back identical through the SSM dispatcher's decoding.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  PACK_ABOVE,
  packInspect,
  unpackInspect,
} from '../../../reconciler/src/adapters/aws/inspect-payload.js';
import { SsmDispatcher } from '../../../reconciler/src/adapters/aws/ssm-dispatcher.js';
import type { ActualState } from '../../../reconciler/src/model/types.js';
import { emptyAuroraServer, ordersCluster } from '../../support/fixtures.js';

const lambda = mockClient(LambdaClient);
afterEach(() => lambda.reset());

/** A deterministic spread of names, hosts and grants, so gzip finds no easier repetition than a real server's. */
function bigServer(n: number): ActualState {
  let seed = 7;
  const rand = () => {
    seed = (seed * 48271) % 2147483647;
    return seed;
  };
  const word = () => rand().toString(36) + rand().toString(36);
  const accounts = Array.from({ length: n }, () => {
    const user = `svc_${word()}`;
    const db = `db_${rand() % 400}`;
    return {
      user,
      host: `10.${rand() % 256}.${rand() % 256}.%`,
      kind: 'user' as const,
      auth: 'password' as const,
      plugin: 'mysql_native_password',
      locked: false,
      grants: ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'EXECUTE']
        .slice(0, 1 + (rand() % 5))
        .flatMap((privilege) => [
          { level: 'database' as const, database: db, privilege },
          { level: 'table' as const, database: db, table: `t_${word()}`, privilege },
        ]),
      roles: [`role_${rand() % 50}`],
      defaultRoles: [`role_${rand() % 50}`],
    };
  });
  return {
    ...emptyAuroraServer,
    accounts,
    owned: accounts.map((a) => ({
      user: a.user,
      host: a.host,
      kind: 'user' as const,
      owner: '111122223333/orders',
      secretName: `rds-orders-${a.user}-secret`,
    })),
  } as ActualState;
}

describe('the inspect answer on the wire', () => {
  it('gzips a cluster whose JSON exceeds what Lambda returns, and gives it back unchanged', () => {
    const state = bigServer(10_000);
    const json = JSON.stringify(state).length;
    const packed = packInspect(state);
    const sent = JSON.stringify(packed).length;
    expect(json).toBeGreaterThan(6 * 1024 * 1024);
    expect(sent).toBeLessThan(json / 2);
    expect(sent).toBeLessThan(6 * 1024 * 1024);
    expect(packed).toMatchObject({ encoding: 'gzip+base64' });
    expect(unpackInspect(JSON.parse(JSON.stringify(packed)))).toEqual(state);
  });

  it('sends a small answer as it is', () => {
    expect(JSON.stringify(emptyAuroraServer).length).toBeLessThan(PACK_ABOVE);
    expect(packInspect(emptyAuroraServer)).toBe(emptyAuroraServer);
    expect(unpackInspect(emptyAuroraServer)).toBe(emptyAuroraServer);
  });

  it("is decoded by the SSM dispatcher from the executor Lambda's response", async () => {
    const state = bigServer(2_000);
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: new TextEncoder().encode(JSON.stringify(packInspect(state))) as never,
    });
    const dispatcher = new SsmDispatcher({
      ssm: new SSMClient({}),
      documentName: 'dbusers-executor',
      lambdaFunctionName: 'dbusers-executor',
      revision: 'r',
      targetClients: () => ({ ssm: new SSMClient({}), lambda: new LambdaClient({}) }),
    });
    expect(await dispatcher.inspect(ordersCluster, [])).toEqual(state);
  });
});
