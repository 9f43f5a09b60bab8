/**
 * What the server accepts as an account name, a host and an identifier: one set of rules for the
 * YAML loader and for the executor, which re-checks every name an event carries.
 */
import type { ClusterSpec } from './types.js';

/** Control characters, or characters outside the Basic Multilingual Plane (the grant tables store utf8mb3: they become `?`). */
const UNSTORABLE = /[\u0000-\u001f\u007f]|[\ud800-\udfff]/;

/** Why the server cannot hold this account or role name, or undefined. */
export function nameProblem(name: string, maxLength: number): string | undefined {
  if (name === '') return 'an empty name';
  if (UNSTORABLE.test(name))
    return `${JSON.stringify(name)} holds control characters or characters outside the Basic Multilingual Plane`;
  if (name.endsWith(' ')) return `${JSON.stringify(name)} ends with a space, which the server drops`;
  if ([...name].length > maxLength)
    return `${JSON.stringify(name)} is ${[...name].length} characters; the server allows ${maxLength}`;
  if (name.length >= 2 && name.startsWith("'") && name.endsWith("'")) {
    // The server strips one pair of surrounding single quotes from a login name: nobody could log in.
    return `${JSON.stringify(name)} starts and ends with a single quote, which the server strips at login`;
  }
  return undefined;
}

/** Host characters: names, IPv4/IPv6 addresses, netmasks and the `%` / `_` wildcards. */
const HOST = /^[A-Za-z0-9._%:/-]+$/;

/** A host as the server stores it: MariaDB and MySQL keep host names in lower case. */
export function normaliseHost(host: string): string {
  return host.toLowerCase();
}

/** Why the server cannot store this host as written, or undefined. Stored hosts are lower case. */
export function hostProblem(host: string, maxLength: number): string | undefined {
  if (!HOST.test(host))
    return `host ${JSON.stringify(host)} may hold only letters, digits and . _ % : / - (no @, spaces or other characters)`;
  if (host.length > maxLength) return `host is ${host.length} characters; the server allows ${maxLength}`;
  return undefined;
}

/** Why this cannot name a database, table, column or routine, or undefined. */
export function identifierProblem(name: string): string | undefined {
  if (name === '' || [...name].length > 64) return `${JSON.stringify(name)} must be 1 to 64 characters`;
  if (UNSTORABLE.test(name) || name.endsWith(' '))
    return `${JSON.stringify(name)} holds characters the server cannot store in a name`;
  return undefined;
}

/**
 * Why a database-level grant cannot name this database literally, or undefined: the grant names it
 * with each `_`, `%` and `\` escaped, and the server takes at most 64 characters there.
 */
export function literalDatabaseProblem(database: string): string | undefined {
  const escaped = [...database].length + (database.match(/[\\_%]/g)?.length ?? 0);
  return escaped > 64
    ? `${JSON.stringify(database)} is ${escaped} characters once its _ % \\ are escaped, as a grant on the database names it; the server allows 64`
    : undefined;
}

/**
 * Why MariaDB cannot keep a routine grant naming this account, database and routine, or undefined.
 * It writes the names of `mysql.procs_priv` double-encoded (their UTF-8 read as latin1), whatever
 * character_set_server: the grant works until the next FLUSH PRIVILEGES or restart, then names an
 * account and a routine that do not exist (seen on MariaDB 10.11). Only ASCII names survive.
 */
export function routineGrantProblem(user: string, database: string, routine: string): string | undefined {
  const lost = [user, database, routine].find((n) => /[^\u0000-\u007f]/.test(n));
  return lost === undefined
    ? undefined
    : `MariaDB loses a routine grant naming ${JSON.stringify(lost)} at its next restart (it stores names outside ASCII in mysql.procs_priv double-encoded); use ASCII names, or grant EXECUTE on the database`;
}

/** Secrets Manager's secret name characters. */
export const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;

/** `part` with each character a secret name cannot hold (see SECRET_NAME) made `_`. */
export function secretNamePart(part: string): string {
  return part.replace(/[^A-Za-z0-9/_+=.@-]/g, '_');
}

/** The candidate closest to a mistyped name (edit distance at most a third of its length), for "did you mean". */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d <= Math.max(2, Math.floor(c.length / 3)) && (!best || d < best.d)) best = { c, d };
  }
  return best?.c;
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++)
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

/** The cluster's master secret, by ARN or by name: never a user's secret. */
export function isMasterSecret(target: Pick<ClusterSpec, 'masterSecretArn'>, secretName: string): boolean {
  return (
    secretName === target.masterSecretArn ||
    target.masterSecretArn.endsWith(`:secret:${secretName}`) ||
    target.masterSecretArn.replace(/-[A-Za-z0-9]{6}$/, '').endsWith(`:secret:${secretName}`)
  );
}
