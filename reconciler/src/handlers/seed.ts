/**
 * The seed's single-action payload (reference/aws-formats.md §1.3) → executor actions. Pure: the
 * handler reads the server, this decides; the executor's guard then checks the result like any batch.
 */
import type { Dialect } from '../dialect/index.js';
import { profilePrivileges } from '../dialect/privileges.js';
import type { Action, ActualAccount, Grant } from '../model/types.js';

/** The seed's payload, as its automation document sends it. */
export interface SeedEvent {
  username: string;
  role?: 'admin' | 'readwrite' | 'readonly' | '';
  rds_secret_name: string;
  db_name: string;
  action: 'create_user' | 'delete_user' | 'update_grant' | 'reset_password';
}

/** The seed names its secrets `rds-<db>-<user>-secret`. */
export function seedSecretName(event: Pick<SeedEvent, 'db_name' | 'username'>): string {
  return `rds-${event.db_name}-${event.username}-secret`;
}

/** The seed's account: the user on any host. */
export function seedAccount(event: Pick<SeedEvent, 'username'>) {
  return { user: event.username, host: '%' };
}

/**
 * The actions one seed event means, given the account as the server holds it (undefined when it
 * does not exist); a string says why the event cannot be carried out.
 */
export function seedActions(
  event: SeedEvent,
  current: ActualAccount | undefined,
  dialect: Dialect,
): Action[] | string {
  const account = seedAccount(event);
  const secretName = seedSecretName(event);
  const reason = `seed ${event.action}`;
  if ((event.action === 'create_user' || event.action === 'update_grant') && !event.role) {
    return `${event.action} needs GrantType (role): one of admin, readwrite, readonly`;
  }
  const profile: Grant[] = event.role
    ? profilePrivileges(event.role, dialect.privileges.database).map((privilege) => ({
        level: 'database',
        database: event.db_name,
        privilege,
      }))
    : [];
  switch (event.action) {
    case 'create_user':
      return [
        {
          kind: 'create_user',
          ...account,
          auth: 'password',
          adopt: false,
          secretName,
          grants: profile,
          roles: [],
          reason,
        },
      ];
    case 'update_grant': {
      if (!current) return `user ${event.username} does not exist`;
      // The profile replaces what the user holds on this database; grants elsewhere stay.
      const elsewhere = current.grants.filter((g) => g.level === 'global' || g.database !== event.db_name);
      const before = { grants: current.grants, roles: [...current.roles] };
      return [
        {
          kind: 'update_grant',
          ...account,
          accountKind: 'user',
          grants: [...elsewhere, ...profile],
          roles: [...current.roles],
          before,
          reason,
        },
      ];
    }
    case 'reset_password':
      return current
        ? [{ kind: 'reset_password', ...account, secretName, reason }]
        : `user ${event.username} does not exist`;
    case 'delete_user':
      return [{ kind: 'delete_user', ...account, secretName, reason }];
  }
}
