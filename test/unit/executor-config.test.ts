/** The executor's configuration (DBUSERS_CLUSTERS): what it serves, and a malformed one refused at once. */
import { describe, expect, it } from 'vitest';
import { ExecutorConfigError, loadExecutorConfig } from '../../reconciler/src/execute/config.js';
import { ordersCluster } from '../support/fixtures.js';

const load = (clusters: unknown) => () => loadExecutorConfig({ DBUSERS_CLUSTERS: JSON.stringify(clusters) });
const { name, account, region, engine, endpoint, port, masterSecretArn } = ordersCluster;
const minimal = { name, account, region, engine, endpoint, port, masterSecretArn };

describe('executor configuration', () => {
  it('loads the clusters of the deployment, with nothing protected or excepted unless listed', () => {
    expect(load([minimal])()).toEqual([
      {
        ...minimal,
        alias: '',
        databases: [],
        protectedAccounts: [],
        remediateDrift: false,
        privilegeExceptions: [],
      },
    ]);
    const exception = {
      user: 'app',
      target: { level: 'global' },
      privileges: ['PROCESS'],
      reason: 'metrics',
    };
    expect(load([{ ...minimal, privilegeExceptions: [exception] }])()[0]!.privilegeExceptions).toEqual([
      exception,
    ]);
  });

  it.each([
    ['no configuration', undefined, 'the executor serves no cluster'],
    ['not JSON', '[{', 'DBUSERS_CLUSTERS is not JSON'],
    ['not a list', JSON.stringify(minimal), 'DBUSERS_CLUSTERS must be a JSON array of clusters'],
    [
      'a cluster with no endpoint',
      JSON.stringify([{ ...minimal, endpoint: '' }]),
      'DBUSERS_CLUSTERS[0] has no endpoint',
    ],
    [
      'protected accounts that are not names',
      JSON.stringify([{ ...minimal, protectedAccounts: 'root' }]),
      'DBUSERS_CLUSTERS[0].protectedAccounts must be a list of names',
    ],
    [
      'an exception without its target (as YAML spells it, not as dbusers writes it)',
      JSON.stringify([
        {
          ...minimal,
          privilegeExceptions: [{ account: 'app', on: '*.*', privileges: ['PROCESS'], reason: 'x' }],
        },
      ]),
      'DBUSERS_CLUSTERS[0].privilegeExceptions must be a list of { user, host?, target: { level, ... }, privileges, reason }',
    ],
    [
      'an exception of an unknown level',
      JSON.stringify([
        {
          ...minimal,
          privilegeExceptions: [
            { user: 'app', target: { level: 'server' }, privileges: ['PROCESS'], reason: 'x' },
          ],
        },
      ]),
      'DBUSERS_CLUSTERS[0].privilegeExceptions must be a list',
    ],
  ])('refuses %s with one clear message', (_, text, message) => {
    const run = () => loadExecutorConfig({ DBUSERS_CLUSTERS: text });
    expect(run).toThrow(ExecutorConfigError);
    expect(run).toThrow(message);
  });
});
