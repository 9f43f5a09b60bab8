import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalEnvironment } from '../../reconciler/src/adapters/local/local-dispatcher.js';
import { loginAs, reconcileLocally, localServer, type TestServer } from '../support/server.js';

let server: TestServer;
let env: LocalEnvironment;
let stop: () => Promise<void>;

/** readwrite on the whole database, or read-only on the one table: SELECT moves between levels. */
const file = (readwrite: boolean) => `account: "444455556666"
alias: loop
clusters:
  - { name: main, region: eu-west-1, engine: mariadb, endpoint: db.example.com, port: 3306, masterSecretArn: "arn:aws:secretsmanager:eu-west-1:444455556666:secret:m", databases: [app] }
users:
  - name: looper
    cluster: main
    grants:
      - ${readwrite ? '{ database: app, profile: readwrite }' : '{ on: "app.t", privileges: [SELECT] }'}
`;

async function apply(readwrite: boolean) {
  const r = await reconcileLocally(env, { 'users/loop.yaml': file(readwrite) }, 'apply');
  expect(r.diagnostics).toEqual([]);
  expect(r.results.every((b) => b.ok)).toBe(true);
}

beforeAll(async () => {
  ({ server, env, stop } = await localServer([
    'CREATE DATABASE app',
    'CREATE TABLE app.t (id INT)',
    'INSERT INTO app.t VALUES (1)',
  ]));
});

afterAll(async () => {
  await stop?.();
});

describe('changing grants', () => {
  it('never denies a SELECT that both the old and the new grants allow', async () => {
    await apply(true);
    const secret = await env.secretsFor('444455556666').getValue('rds-main-looper-secret', 'AWSCURRENT');
    const client = await loginAs(server, 'looper', secret!.password);
    let stop = false;
    let selects = 0;
    const denials: string[] = [];
    const loop = (async () => {
      while (!stop) {
        try {
          await client.query('SELECT COUNT(*) FROM app.t');
          selects++;
        } catch (error) {
          denials.push((error as Error).message);
        }
      }
    })();
    for (let i = 0; i < 20; i++) await apply(i % 2 === 1);
    stop = true;
    await loop;
    await client.close();
    expect(denials).toEqual([]);
    expect(selects).toBeGreaterThan(100);
  });
});
