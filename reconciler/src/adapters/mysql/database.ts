/** The database port and its one adapter: mysql2 against a real server. */
import mysql from 'mysql2/promise';
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

/** Parse `mysql://user:password@host:port` (user and password URL-encoded). */
export function parseDatabaseUrl(url: string): ConnectionSpec {
  const u = new URL(url);
  if (u.protocol !== 'mysql:' && u.protocol !== 'mariadb:') {
    throw new Error(`DBUSERS_DATABASE_URL must be a mysql:// URL, got ${JSON.stringify(u.protocol)}`);
  }
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 3306,
    user: decodeURIComponent(u.username || 'root'),
    password: decodeURIComponent(u.password),
    socketPath: u.searchParams.get('socket') ?? undefined,
  };
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
    });
  } catch (cause) {
    throw new DatabaseConnectError(`connect to ${where} as '${spec.user}': ${(cause as Error).message}`, where, { cause });
  }
  // Backslash escapes must stay on and double quotes must stay strings: quoteString relies on both.
  await conn.query("SET SESSION sql_mode = REPLACE(REPLACE(@@sql_mode, 'NO_BACKSLASH_ESCAPES', ''), 'ANSI_QUOTES', '')");
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
