/** The database port: one connection to one server. Its one adapter is mysql2 against a real server. */

/** Where and as whom to connect. */
export interface ConnectionSpec {
  host: string;
  port: number;
  user: string;
  password: string;
  socketPath?: string;
  ssl?: { ca?: string; rejectUnauthorized: boolean };
}

/** A connection to one server; statements are plain text (account statements take no placeholders). */
export interface Database {
  query<T = Record<string, unknown>>(sql: string, values?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}
