/**
 * What every dialect provides, and the pieces they share. The dialects themselves are in
 * mariadb.ts and mysql.ts; index.ts picks one.
 */
import { AccountMap } from '../model/account-map.js';
import type { AccountId, ActualAccount } from '../model/types.js';
import { hash } from 'node:crypto';
import { quoteAccount } from '../sql/escape.js';

/** The rows of every bulk query, by query name. */
export type QueryResults = Record<string, Record<string, unknown>[]>;

/**
 * One bulk read query and what to do with its rows. Rows are read into the index as soon as each
 * query returns, so a large server's rows do not all stay in memory at once.
 */
export interface InspectQuery {
  name: string;
  sql: string;
  read(rows: Record<string, unknown>[], index: AccountIndex): void;
}

export type DialectName = 'mariadb' | 'mysql8' | 'mysql57';

export interface Dialect {
  name: DialectName;
  supportsRoles: boolean;
  /** Roles have no host on MariaDB (''); MySQL gives them '%'. */
  roleHost: string;
  /** Names the server refuses for a role, in upper case (it compares them in any case). */
  reservedRoleNames: readonly string[];
  maxUserLength: number;
  maxHostLength: number;
  /** More than one default role per account. */
  multipleDefaultRoles: boolean;
  privileges: { global: string[]; database: string[]; table: string[]; column: string[]; routine: string[] };
  /** Privileges later versions of the engine add, with the version that does: named in refusals. */
  newerPrivileges?: Readonly<Record<string, string>>;
  /**
   * Bulk queries that read a whole server, their number independent of the number of accounts,
   * given the privilege columns of its `mysql.db` (they differ by engine and version).
   */
  inspectQueries(dbColumns: readonly string[]): InspectQuery[];
  /** How statements name the account or role. */
  account(a: AccountId, kind: 'user' | 'role'): string;
  createUser(a: AccountId, auth: { password: string } | { iam: true } | { locked: true }): string;
  setPassword(a: AccountId, password: string): string;
  /**
   * A password change that keeps the old password valid until discardOldPassword (MySQL 8 dual
   * passwords: clients still on the old one are not refused during a rotation); undefined where the
   * engine has no such thing (MariaDB, MySQL 5.7).
   */
  setPasswordRetaining?(a: AccountId, password: string): string;
  discardOldPassword?(a: AccountId): string;
  createRole(name: string): string;
  dropAccount(a: AccountId, kind: 'user' | 'role'): string;
  grantRole(role: string, grantee: string, admin?: boolean): string;
  revokeRole(role: string, grantee: string): string;
  /** Take the admin option away, keeping the role. */
  revokeAdminOption(role: string, grantee: string): string[];
  /** A table-level REVOKE also deletes the column grants of that privilege (MariaDB). */
  tableRevokeDropsColumns: boolean;
  /** Routine grants keep only ASCII account, database and routine names (MariaDB: names.ts routineGrantProblem). */
  asciiRoutineGrants?: boolean;
  /** Statements that make `roles` the default roles of a user (none → NONE). */
  setDefaultRoles(grantee: string, roles: readonly string[]): string[];
}

/** `mysql_native_password`'s stored form: `*` and the upper-case hex of SHA1(SHA1(password)). */
export function nativePasswordHash(password: string): string {
  // One-shot hashing: inspection hashes one secret per owned password user.
  return `*${hash('sha1', hash('sha1', password, 'buffer'), 'hex').toUpperCase()}`;
}

/**
 * Account clauses common to every dialect, given how the dialect identifies a password: a hash on
 * MariaDB (the clear text never reaches the general, slow or binary log), or the clear text on MySQL,
 * whose server rewrites it in every log (reference/mysql-mariadb.md).
 */
export function accountClauses(identifiedBy: (password: string) => string) {
  return {
    account(a: AccountId): string {
      return quoteAccount(a.user, a.host);
    },
    /** Plain CREATE USER: an account that already exists under another spelling fails instead of passing silently. */
    createUser(a: AccountId, auth: { password: string } | { iam: true } | { locked: true }): string {
      const clause =
        'password' in auth
          ? identifiedBy(auth.password)
          : 'iam' in auth
            ? `IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'`
            : 'ACCOUNT LOCK';
      return `CREATE USER ${quoteAccount(a.user, a.host)} ${clause}`;
    },
    setPassword(a: AccountId, password: string): string {
      return `ALTER USER ${quoteAccount(a.user, a.host)} ${identifiedBy(password)}`;
    },
  };
}

/** Whether `password` is what the server stores, where the format allows computing it; undefined otherwise. */
export function passwordMatches(plugin: string, authString: string, password: string): boolean | undefined {
  if ((plugin === 'mysql_native_password' || plugin === '') && /^\*[0-9A-F]{40}$/i.test(authString)) {
    return authString.toUpperCase() === nativePasswordHash(password);
  }
  return undefined; // caching_sha2_password and others: salted, not checked here
}

/**
 * `list` and `role`, as a new list. An account's role lists start as the shared NO_NAMES (most hold
 * no role, so inspection makes no three lists per account) and are never changed in place; accounts
 * hold a few roles, so the copy costs less than a list each.
 */
export function withRole(list: readonly string[] | undefined, role: string): readonly string[] {
  return list === undefined ? [role] : [...list, role];
}

/** One account of the index and its stored password hash. */
interface Slot extends AccountId {
  account: ActualAccount;
  authString: string;
}

/**
 * Accounts by (user, host), filled in one pass over each bulk result: readers push grants, roles
 * and default roles straight onto the account they belong to, with no intermediate rows.
 */
export class AccountIndex {
  // The password hash kept beside its account: no second map.
  private readonly slots = new AccountMap<Slot>();
  private readonly list: ActualAccount[] = [];

  /**
   * Add an account as its reader built it, every field present (one object shape for all), with
   * its stored password hash: compared with secrets inside inspection, never returned with it.
   */
  add(account: ActualAccount, authString = ''): ActualAccount {
    this.slots.add({ user: account.user, host: account.host, account, authString });
    this.list.push(account);
    return account;
  }

  get(user: unknown, host: unknown): ActualAccount | undefined {
    return this.slots.get(text(user), text(host))?.account;
  }

  /** An account with its stored password hash ('' when it has none), in one lookup. */
  withHash(user: string, host: string): { account: ActualAccount; authString: string } | undefined {
    return this.slots.get(user, host);
  }

  /**
   * Every account, each one's grants copied at their exact length: a list grown by push keeps room
   * for 16 more, which every later copy by the garbage collector moves too (for 10,000 accounts,
   * 1.2 MB of the 5 MB an inspection keeps).
   */
  all(): ActualAccount[] {
    for (const a of this.list) if (a.grants.length > 0) a.grants = a.grants.slice();
    return this.list;
  }
}

/**
 * Bulk rows by query name → accounts with grants, roles and default roles; `dbColumns`, the
 * privilege columns of `mysql.db`, where the results hold its rows.
 */
export function readAccounts(
  dialect: Pick<Dialect, 'inspectQueries'>,
  results: QueryResults,
  dbColumns: readonly string[] = [],
): ActualAccount[] {
  const index = new AccountIndex();
  for (const q of dialect.inspectQueries(dbColumns)) q.read(results[q.name] ?? [], index);
  return index.all();
}

/**
 * A reader of a text column whose value repeats from row to row (a plugin, an owner): an equal value
 * comes back as the string read before it, so what inspection keeps holds it once, not once per row.
 */
export function repeatedText(): (value: unknown) => string {
  let last = '';
  return (value) => {
    const t = text(value);
    if (t !== last) last = t;
    return last;
  };
}

/** Read one text cell whatever the driver returned (string, Buffer, null). */
export function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return String(value);
}
