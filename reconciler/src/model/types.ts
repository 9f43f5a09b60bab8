/** Types shared by every stage: desired state, actual state, grants, plans and diagnostics. */
import type { PrivilegeException } from './privilege-policy.js';

/** Database engines dbusers manages. */
export const ENGINES = ['mysql', 'aurora-mysql', 'mariadb'] as const;
export type Engine = (typeof ENGINES)[number];

/** How an account authenticates: a password held in a secret, an IAM token, or nothing (roles). */
export type AuthKind = 'password' | 'iam' | 'none';

/**
 * What a grant applies to. Names are literal: a database name is never a pattern here, except for
 * a database grant read from the server whose stored name holds an unescaped `_` or `%`
 * (`pattern` is then the stored text, so it can be revoked exactly as stored).
 */
export type GrantTarget =
  | { level: 'global' }
  | { level: 'database'; database: string; pattern?: string }
  | { level: 'table'; database: string; table: string }
  | { level: 'column'; database: string; table: string; column: string }
  | { level: 'routine'; database: string; routine: string; routineType: 'PROCEDURE' | 'FUNCTION' };

/**
 * One privilege on one object: the unit both sides are compared in. `GRANT OPTION` is a privilege
 * of its own here, because the server stores it per object, not per privilege.
 */
export type Grant = GrantTarget & { privilege: string };

/** A table, column or routine a grant names: it must exist before the grant can be made. */
export type ObjectRef =
  | { database: string; table: string; column?: string }
  | { database: string; routine: string; routineType: 'PROCEDURE' | 'FUNCTION' };

/** An account is a user or a role, named as the server names it. */
export interface AccountId {
  user: string;
  host: string;
}

/** What the YAML declares for one account of one cluster. */
export interface DesiredAccount extends AccountId {
  kind: 'user' | 'role';
  cluster: string;
  auth: AuthKind;
  grants: Grant[];
  /** Roles granted to this account (also made its default roles). */
  roles: string[];
  /** Of those, the ones held WITH ADMIN OPTION (may grant them on). */
  adminRoles?: string[];
  /** Of a user's roles, the ones not made default roles (`default: false`). */
  nonDefaultRoles?: string[];
  /** Take over an existing account that dbusers did not create. */
  adopt: boolean;
  /** Secret holding the password (password users only). */
  secretName?: string;
  rotationDays?: number;
  /** IAM principals allowed to connect as this user (auth: iam). */
  iamPrincipals: string[];
  /** Where it was declared, for messages. */
  source: string;
}

/** Connection and identity of one database cluster. */
export interface ClusterSpec {
  name: string;
  account: string;
  alias: string;
  region: string;
  engine: Engine;
  endpoint: string;
  port: number;
  masterSecretArn: string;
  databases: string[];
  /** `engineVersion` as declared, e.g. "8.0.36" or "10.11"; optional. */
  engineVersion?: string;
  /** Extra accounts never to touch, from the YAML (`protected`). */
  protectedAccounts: string[];
  /** What drift detection may repair by itself. */
  remediateDrift: boolean;
  /**
   * A push whose plan differs from the one last shown on its merged pull request: `apply` (the
   * default; the result says so) or `refuse` (nothing applied on this cluster until re-reviewed).
   */
  onDigestMismatch?: 'apply' | 'refuse';
  /** RDS cluster/instance resource id, for rds-db:connect ARNs. */
  resourceId?: string;
  /** Grants the privilege policy refuses, allowed here by name (`privilegeExceptions`). */
  privilegeExceptions: PrivilegeException[];
}

/** The whole desired state of one cluster: what a plan is computed for. */
export interface DesiredTarget {
  cluster: ClusterSpec;
  accounts: DesiredAccount[];
  /** The account file's `secretNameTemplate` (or the default): how future users' secrets are named. */
  secretNameTemplate?: string;
}

/** What inspection found for one account. */
export interface ActualAccount extends AccountId {
  kind: 'user' | 'role';
  auth: AuthKind;
  plugin: string;
  locked: boolean;
  /** Unix seconds, or undefined when the server does not say. */
  passwordChangedAt?: number;
  /** Expired on the server (`PASSWORD EXPIRE`): it refuses every statement until the password is set again. */
  passwordExpired?: true;
  /** The account's own password lifetime in days (0: never); undefined: the server's default. */
  passwordLifetime?: number;
  grants: Grant[];
  roles: readonly string[];
  /** Roles held WITH ADMIN OPTION (`roles_mapping.Admin_option`, `role_edges.WITH_ADMIN_OPTION`). */
  adminRoles?: readonly string[];
  defaultRoles: readonly string[];
  /** MySQL 8 partial revokes (`User_attributes.Restrictions`): privileges a global grant excludes on a schema. */
  partialRevokes?: string[];
  /** The accounts it may act as (`mysql.proxies_priv`): no YAML spelling, so only reported. Set only when any. */
  proxies?: readonly string[];
  /**
   * For an owned password user: whether the server's password is its secret's AWSCURRENT (the
   * engine's hash compared where the secret lives); undefined when not checked.
   */
  passwordMatchesSecret?: boolean;
}

/**
 * The default roles a declaration or an action asks for: its roles but those marked `default: false`;
 * where the engine activates one (MariaDB), the first. Most accounts mark none: their list itself.
 */
export function defaultRolesOf(
  a: { roles: readonly string[]; nonDefaultRoles?: readonly string[] },
  multiple: boolean,
): readonly string[] {
  const defaults = a.nonDefaultRoles?.length
    ? a.roles.filter((r) => !a.nonDefaultRoles!.includes(r))
    : a.roles;
  return multiple || defaults.length <= 1 ? defaults : [...defaults].sort().slice(0, 1);
}

/** An account as it is right after CREATE USER / CREATE ROLE: nothing granted. */
export function newAccount(a: AccountId, kind: 'user' | 'role'): ActualAccount {
  return {
    user: a.user,
    host: a.host,
    kind,
    auth: 'none',
    plugin: '',
    locked: false,
    grants: [],
    roles: [],
    defaultRoles: [],
  };
}

/** Metadata of a secret; never its value. */
export interface SecretMeta {
  name: string;
  arn?: string;
  tags: Record<string, string>;
  /** Unix seconds of the current version. */
  changedAt?: number;
  hasCurrent: boolean;
  hasPending: boolean;
  /** The store rotates the secret itself (Secrets Manager with a rotation Lambda). */
  rotationEnabled: boolean;
  deleted: boolean;
}

/** A row of the ownership registry kept on the target server. */
export interface OwnershipRecord extends AccountId {
  kind: 'user' | 'role';
  secretName?: string;
  /** The cluster whose declarations own the account (`account/cluster`): one server may serve several. */
  owner: string;
}

/** The owner id of a cluster's accounts in the registry. */
export function ownerOf(cluster: { account: string; name: string }): string {
  return `${cluster.account}/${cluster.name}`;
}

/** Everything inspection found on one server. */
export interface ActualState {
  /** The server actually read, as a person names it: `host:port`, or `embedded MariaDB in <folder>`. */
  server?: string;
  engine: Engine;
  version: string;
  /** The account the inspection connected as: always protected. */
  currentUser: AccountId;
  /** Users the executor connects as (itself, the master secret's user): protected on every host. */
  adminUsers: string[];
  supportsRoles: boolean;
  /** The host roles have on this server: '' on MariaDB, '%' on MySQL. */
  roleHost: string;
  /** MySQL activates several default roles; MariaDB only one (the first declared). */
  multipleDefaultRoles: boolean;
  supportsIamAuth: boolean;
  /** Where the server has no IAM plugin, the executor makes an IAM user locked instead (local mode only). */
  iamStandIn?: boolean;
  /** The server's default_password_lifetime in days, where it expires passwords (over 0). */
  defaultPasswordLifetime?: number;
  /**
   * lower_case_table_names = 1: the server keeps database, table and routine names in lower case,
   * in its grant tables too, and matches them in any case.
   */
  lowerCaseNames?: true;
  /** read_only or innodb_read_only: a read replica or an Aurora reader, which refuses every change. */
  readOnly?: true;
  /**
   * The password validation plugins of a MariaDB whose strict_password_validation refuses a password
   * given as its hash: the only way dbusers gives MariaDB a password (its logs keep statements as sent).
   */
  passwordHashRefusedBy?: string;
  accounts: ActualAccount[];
  owned: OwnershipRecord[];
  /** Of the tables and routines the declarations name (when asked), those the server does not have. */
  missingObjects?: ObjectRef[];
  /** Registry rows whose integrity check failed (written outside dbusers): reported, never acted on. */
  unverifiedClaims: AccountId[];
  /** Secrets by name, for the password accounts that name one. */
  secrets: Record<string, SecretMeta>;
}

/** The reason attached to every action and skip: why the plan says so. */
export type Reason = string;

interface ActionBase extends AccountId {
  reason: Reason;
}

/** Create a user: claim ownership, set its password through its secret (or IAM), then grants. */
export interface CreateUserAction extends ActionBase {
  kind: 'create_user';
  auth: AuthKind;
  adopt: boolean;
  secretName?: string;
  grants: Grant[];
  roles: string[];
  adminRoles?: string[];
  nonDefaultRoles?: string[];
}
export interface CreateRoleAction extends ActionBase {
  kind: 'create_role';
  adopt: boolean;
  grants: Grant[];
  roles: string[];
  adminRoles?: string[];
}
/** Converge one account to exactly this grant set, role set and default roles. */
export interface UpdateGrantAction extends ActionBase {
  kind: 'update_grant';
  accountKind: 'user' | 'role';
  grants: Grant[];
  roles: string[];
  adminRoles?: string[];
  nonDefaultRoles?: string[];
  before: { grants: Grant[]; roles: string[]; adminRoles?: string[] };
}
export interface ResetPasswordAction extends ActionBase {
  kind: 'reset_password';
  secretName: string;
}
export interface DeleteUserAction extends ActionBase {
  kind: 'delete_user';
  secretName?: string;
}
export interface DropRoleAction extends ActionBase {
  kind: 'drop_role';
}

export type Action =
  | CreateRoleAction
  | CreateUserAction
  | UpdateGrantAction
  | ResetPasswordAction
  | DeleteUserAction
  | DropRoleAction;
export type ActionKind = Action['kind'];

/** Something the planner saw and deliberately did not act on. */
export interface Skipped extends AccountId {
  reason:
    | 'unmanaged'
    | 'protected'
    | 'over delete limit'
    | 'not adopted'
    | 'filtered by policy'
    | 'unsupported'
    | 'unverified ownership'
    | 'privilege policy'
    | 'missing object'
    | 'missing privilege'
    | 'secret name';
  detail: string;
}

/** Skips that mean the YAML asked for something that was not done: a run with any of them fails. */
export const REFUSAL_REASONS: readonly Skipped['reason'][] = [
  'over delete limit',
  'missing object',
  'missing privilege',
  'secret name',
  'privilege policy',
  'unsupported',
];

/** The detail of a protected account with nothing more to say: plans list it among those left alone. */
export const PROTECTED_ACCOUNT = 'protected account';

/** The plan for one cluster: JSON data, deterministic order. */
export interface Plan {
  cluster: string;
  account: string;
  alias: string;
  /** The server the plan was computed against. */
  server?: string;
  actions: Action[];
  skipped: Skipped[];
  /** Grants the privilege policy refuses that the account file allows by name, shown for review. */
  exceptions: { user: string; host: string; grant: string; reason: string }[];
  /** IAM `rds-db:connect` resources the declared principals need (auth: iam). */
  iamConnect: { user: string; resource: string; principals: string[] }[];
}

export const DIAGNOSTIC_CODES = [
  'YAML_SYNTAX',
  'SCHEMA',
  'DUPLICATE_USER',
  'DUPLICATE_ROLE',
  'DUPLICATE_CLUSTER',
  'UNKNOWN_CLUSTER',
  'UNKNOWN_ROLE',
  'UNKNOWN_DATABASE',
  'UNKNOWN_PRIVILEGE',
  'BAD_GRANT_TARGET',
  'ACCOUNT_MISMATCH',
  'ENGINE_UNSUPPORTED',
  'NAME_TOO_LONG',
  'UNUSABLE_NAME',
  'SECRET_NAME',
  'PROTECTED_ACCOUNT',
  'PRIVILEGE_POLICY',
  'BAD_HOST',
  'ROLE_CYCLE',
  'ENCODING',
  'FILE',
] as const;
export type DiagnosticCode = (typeof DIAGNOSTIC_CODES)[number];

/** A problem in a YAML file, pointing at the node. */
export interface Diagnostic {
  code: DiagnosticCode;
  file: string;
  line: number;
  col: number;
  message: string;
}

/** The key of an account, as used in maps and registry rows. */
export function accountKey(a: AccountId): string {
  return `${a.user}@${a.host}`;
}

/**
 * A target as every output names it (events, metrics, comments and their digest lines, logs):
 * `alias/cluster`, from a plan or from a cluster spec.
 */
export function targetName(t: { alias: string; cluster: string } | { alias: string; name: string }): string {
  return `${t.alias}/${'cluster' in t ? t.cluster : t.name}`;
}

/** No names (roles, privileges): one frozen list shared wherever an empty one is kept or returned. */
export const NO_NAMES: readonly string[] = Object.freeze([]);

/** 'user'@'host' for messages (not SQL), control characters shown as text (`visible`). */
export function displayAccount(a: AccountId): string {
  return visible(`'${a.user}'@'${a.host}'`);
}

/**
 * Control characters (tabs aside) as `\u001b` text: an account made by hand on the server, or a
 * file in a pull request, may carry a terminal escape sequence, which would clear the screen or
 * rewrite the lines of a plan when printed.
 */
export function visible(s: string): string {
  return s.replace(
    /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
