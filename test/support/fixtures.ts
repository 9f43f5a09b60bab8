/** Named fixtures for planner tests: a cluster, declared accounts, and servers built from them. */
import type {
  ActualAccount,
  ActualState,
  ClusterSpec,
  DesiredAccount,
  DesiredTarget,
  Grant,
  SecretMeta,
} from '../../reconciler/src/model/types.js';

export const ordersCluster: ClusterSpec = {
  name: 'orders',
  account: '111122223333',
  alias: 'payments-prod',
  region: 'eu-west-1',
  engine: 'mariadb',
  endpoint: 'orders.example',
  port: 3306,
  masterSecretArn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:orders-master',
  databases: ['orders', 'audit'],
  protectedAccounts: [],
  remediateDrift: false,
  privilegeExceptions: [],
};

export const select = (database: string): Grant => ({ level: 'database', database, privilege: 'SELECT' });
export const insert = (database: string): Grant => ({ level: 'database', database, privilege: 'INSERT' });

function user(name: string, grants: Grant[], extra: Partial<DesiredAccount> = {}): DesiredAccount {
  return {
    kind: 'user',
    user: name,
    host: '%',
    cluster: 'orders',
    auth: 'password',
    grants,
    roles: [],
    adopt: false,
    secretName: `rds-orders-${name}-secret`,
    iamPrincipals: [],
    source: `users/payments-prod.yaml:1`,
    ...extra,
  };
}

export const aliceReadonly = user('alice', [select('orders')]);
export const aliceReadwrite = user('alice', [insert('orders'), select('orders')]);
export const bobReporting = user('bob', [], { roles: ['reporting'] });
export const carolIam = user('carol', [select('audit')], { auth: 'iam', secretName: undefined });
export const reportingRole: DesiredAccount = {
  kind: 'role',
  user: 'reporting',
  host: '',
  cluster: 'orders',
  auth: 'none',
  grants: [select('audit')],
  roles: [],
  adopt: false,
  iamPrincipals: [],
  source: 'users/payments-prod.yaml:2',
};

/** The registry owner id of ordersCluster. */
export const OWNER = '111122223333/orders';

export const target = (...accounts: DesiredAccount[]): DesiredTarget => ({
  cluster: ordersCluster,
  accounts,
});

/** A current, healthy secret. */
export const secretOk = (name: string, changedAt = 1_800_000_000): SecretMeta => ({
  name,
  tags: {},
  changedAt,
  hasCurrent: true,
  hasPending: false,
  rotationEnabled: false,
  deleted: false,
});

/** The account as the server would hold it once the declaration is applied. */
export function onServer(d: DesiredAccount): ActualAccount {
  return {
    user: d.user,
    host: d.host,
    kind: d.kind,
    auth: d.auth === 'iam' ? 'iam' : d.auth,
    plugin: '',
    locked: false,
    grants: [...d.grants],
    roles: [...d.roles],
    defaultRoles: d.kind === 'user' ? d.roles.filter((r) => !d.nonDefaultRoles?.includes(r)) : [],
  };
}

/** An empty Aurora MySQL server, as the executor's inspect returns it. */
export const emptyAuroraServer: ActualState = {
  engine: 'aurora-mysql',
  version: '8.0.32',
  currentUser: { user: 'admin', host: '%' },
  adminUsers: ['admin'],
  unverifiedClaims: [],
  supportsRoles: true,
  roleHost: '%',
  multipleDefaultRoles: true,
  supportsIamAuth: true,
  accounts: [],
  owned: [],
  secrets: {},
};

/** A server that already matches `declared`: accounts exist, are owned, and have their secrets. */
export function serverMatching(declared: DesiredAccount[], extra: Partial<ActualState> = {}): ActualState {
  return {
    engine: 'mariadb',
    version: '10.11.19-MariaDB',
    currentUser: { user: 'admin', host: '%' },
    adminUsers: ['admin'],
    unverifiedClaims: [],
    supportsRoles: true,
    roleHost: '',
    multipleDefaultRoles: false,
    supportsIamAuth: true,
    accounts: declared.map(onServer),
    owned: declared.map((d) => ({
      user: d.user,
      host: d.host,
      kind: d.kind,
      secretName: d.secretName,
      owner: OWNER,
    })),
    secrets: Object.fromEntries(
      declared.flatMap((d) => (d.secretName ? [[d.secretName, secretOk(d.secretName)]] : [])),
    ),
    ...extra,
  };
}

/** An account someone made by hand. */
export const bobUnmanaged: ActualAccount = {
  user: 'bob',
  host: '%',
  kind: 'user',
  auth: 'password',
  plugin: 'mysql_native_password',
  locked: false,
  grants: [select('orders')],
  roles: [],
  defaultRoles: [],
};
