/** The database port and its one adapter: mysql2 against a real server. */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import mysql from 'mysql2/promise';
import { rdsTls } from './rds.js';
import type { ConnectionSpec, Database } from '../../ports/database.js';

export type { ConnectionSpec, Database };

/** Raised when a server cannot be reached or refuses the login. */
export class DatabaseConnectError extends Error {
  override name = 'DatabaseConnectError';
  constructor(
    message: string,
    readonly target: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** This machine: no TLS needed to reach it. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\./.test(host);
}

/**
 * TLS to a server that is not this machine, verified against the public CAs and the Amazon RDS CAs;
 * none on loopback.
 */
export function defaultTls(host: string): ConnectionSpec['ssl'] {
  return isLoopback(host)
    ? undefined
    : { ca: [...rootCertificates, rdsTls().ca].join('\n'), rejectUnauthorized: true };
}

/**
 * Parse `mysql://user:password@host:port[?ssl=…]` (user and password URL-encoded). TLS is on and
 * verified for any host but this machine; `?ssl=off` turns it off, `?ssl=insecure` skips the
 * verification, `?ssl-ca=FILE` verifies against that CA instead.
 */
export function parseDatabaseUrl(url: string): ConnectionSpec {
  // Never the value in a message: it may hold a password.
  const invalid = () =>
    new Error(
      'DBUSERS_DATABASE_URL is not a valid URL; write mysql://user:password@host:port (percent-encode @ : / % in the password)',
    );
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalid();
  }
  if (u.protocol !== 'mysql:' && u.protocol !== 'mariadb:') {
    throw new Error(`DBUSERS_DATABASE_URL must be a mysql:// URL, got ${JSON.stringify(u.protocol)}`);
  }
  const host = u.hostname || '127.0.0.1';
  const ssl = u.searchParams.get('ssl');
  const ca = u.searchParams.get('ssl-ca');
  if (ssl && !['off', 'insecure', 'verify'].includes(ssl))
    throw new Error(`DBUSERS_DATABASE_URL: ssl=${ssl} is not one of off, insecure, verify`);
  return {
    host,
    port: u.port ? Number(u.port) : 3306,
    user: decoded(u.username || 'root', invalid),
    password: decoded(u.password, invalid),
    socketPath: u.searchParams.get('socket') ?? undefined,
    ssl:
      ssl === 'off'
        ? undefined
        : ssl === 'insecure'
          ? { rejectUnauthorized: false }
          : ca
            ? { ca: readFileSync(ca, 'utf8'), rejectUnauthorized: true }
            : ssl === 'verify'
              ? { ca: [...rootCertificates, rdsTls().ca].join('\n'), rejectUnauthorized: true }
              : defaultTls(host),
  };
}

/** A percent-encoded part of the URL, decoded; a malformed one is the URL's error, never its value. */
function decoded(part: string, invalid: () => Error): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw invalid();
  }
}

/** What failed, in the reader's terms: DNS, TCP, TLS or the login. */
function failedStage(cause: { code?: string; message?: string }): string {
  const code = cause.code ?? '';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'DNS: the host name does not resolve';
  if (code === 'ECONNREFUSED') return 'TCP: connection refused (nothing listens on that port)';
  if (code === 'ETIMEDOUT' || /timeout/i.test(cause.message ?? ''))
    return 'TCP: no answer (timed out; a security group or firewall?)';
  if (code === 'ER_ACCESS_DENIED_ERROR') return 'login refused (user or password wrong)';
  if (/certificate|SSL|TLS|self.signed/i.test(`${code} ${cause.message}`))
    return 'TLS: the server certificate did not verify (?ssl-ca=FILE, or ?ssl=insecure for a test server)';
  return 'connection failed';
}

/** Open a connection with a known sql_mode, so that client-side escaping means what it says. */
export async function connect(spec: ConnectionSpec, timeoutMs = 10_000): Promise<Database> {
  const where = spec.socketPath ?? `${spec.host}:${spec.port}`;
  let conn: mysql.Connection;
  try {
    conn = await mysql.createConnection({
      host: spec.host,
      port: spec.port,
      user: spec.user,
      password: spec.password,
      socketPath: spec.socketPath,
      ssl: spec.ssl,
      connectTimeout: timeoutMs,
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      charset: 'utf8mb4',
      // JSON columns (MariaDB's global_priv.Priv) as text: JSON.parse would round root's 64-bit
      // privilege mask (all privileges read as PROCESS + SHUTDOWN); the dialect reads it exactly.
      jsonStrings: true,
    });
  } catch (cause) {
    throw new DatabaseConnectError(
      `connect to ${where} as '${spec.user}': ${failedStage(cause as Error)}: ${(cause as Error).message}`,
      where,
      { cause },
    );
  }
  // Backslash escapes must stay on and double quotes must stay strings: quoteString relies on both.
  await conn.query(
    "SET SESSION sql_mode = REPLACE(REPLACE(@@sql_mode, 'NO_BACKSLASH_ESCAPES', ''), 'ANSI_QUOTES', '')",
  );
  return {
    async query<T>(sql: string, values?: unknown[]) {
      const [rows] = await conn.query(sql, values);
      return (Array.isArray(rows) ? rows : []) as T[];
    },
    async close() {
      await conn.end().catch(() => conn.destroy());
    },
  };
}
