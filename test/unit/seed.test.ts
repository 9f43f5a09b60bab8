import { describe, expect, it } from 'vitest';
import { mariadb } from '../../reconciler/src/dialect/mariadb.js';
import { seedActions, seedSecretName, type SeedEvent } from '../../reconciler/src/handlers/seed.js';
import type { ActualAccount } from '../../reconciler/src/model/types.js';

const event = (action: SeedEvent['action'], role: SeedEvent['role'] = 'readonly'): SeedEvent => ({
  username: 'app',
  role,
  rds_secret_name: 'orders-master',
  db_name: 'orders',
  action,
});
const onOrders = (privilege: string) => ({ level: 'database' as const, database: 'orders', privilege });
const appOnServer: ActualAccount = {
  user: 'app',
  host: '%',
  kind: 'user',
  auth: 'password',
  plugin: 'mysql_native_password',
  locked: false,
  roles: ['reporting'],
  defaultRoles: ['reporting'],
  grants: [
    onOrders('SELECT'),
    onOrders('INSERT'),
    { level: 'database', database: 'audit', privilege: 'SELECT' },
  ],
};

describe('the seed payload, translated', () => {
  it.each([
    {
      name: 'create_user makes the user with the profile on its database and the seed-named secret',
      e: event('create_user'),
      current: undefined,
      expected: [
        {
          kind: 'create_user',
          user: 'app',
          host: '%',
          auth: 'password',
          adopt: false,
          secretName: 'rds-orders-app-secret',
          grants: [onOrders('SELECT')],
          roles: [],
          reason: 'seed create_user',
        },
      ],
    },
    {
      name: 'create_user never adopts: an existing account is left to the guard to refuse',
      e: event('create_user', 'admin'),
      current: appOnServer,
      expected: [expect.objectContaining({ kind: 'create_user', adopt: false })],
    },
    {
      name: 'update_grant replaces the grants on its database, keeps the others and the roles',
      e: event('update_grant', 'readwrite'),
      current: appOnServer,
      expected: [
        expect.objectContaining({
          kind: 'update_grant',
          accountKind: 'user',
          roles: ['reporting'],
          grants: [
            { level: 'database', database: 'audit', privilege: 'SELECT' },
            ...['SELECT', 'INSERT', 'UPDATE', 'DELETE'].map(onOrders),
          ],
        }),
      ],
    },
    {
      name: 'reset_password resets into the seed-named secret',
      e: event('reset_password', ''),
      current: appOnServer,
      expected: [
        {
          kind: 'reset_password',
          user: 'app',
          host: '%',
          secretName: 'rds-orders-app-secret',
          reason: 'seed reset_password',
        },
      ],
    },
    {
      name: 'delete_user deletes with the seed-named secret',
      e: event('delete_user', ''),
      current: appOnServer,
      expected: [
        {
          kind: 'delete_user',
          user: 'app',
          host: '%',
          secretName: 'rds-orders-app-secret',
          reason: 'seed delete_user',
        },
      ],
    },
  ])('$name', ({ e, current, expected }) => {
    expect(seedActions(e, current, mariadb)).toEqual(expected);
  });

  it.each([
    ['create_user without a GrantType', event('create_user', ''), undefined, /needs GrantType/],
    ['update_grant without a GrantType', event('update_grant', ''), appOnServer, /needs GrantType/],
    ['update_grant of a missing user', event('update_grant'), undefined, /does not exist/],
    ['reset_password of a missing user', event('reset_password'), undefined, /does not exist/],
  ])('refuses %s', (_, e, current, message) => {
    expect(seedActions(e, current, mariadb)).toMatch(message);
  });

  it('names secrets the seed way', () => {
    expect(seedSecretName({ db_name: 'orders', username: 'app' })).toBe('rds-orders-app-secret');
  });
});
