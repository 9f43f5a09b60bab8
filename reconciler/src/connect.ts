/**
 * For applications: connect to an RDS or Aurora MySQL database as an IAM-authenticated user. The
 * token is generated from the caller's AWS credentials (valid 15 minutes), sent as the password
 * over TLS verified against the Amazon RDS certificate authorities. Errors are thrown, not
 * swallowed (seed 2's Lambda logs them and goes on).
 *
 * @example
 *   const db = await connect({ hostname: 'orders.cluster-abc.eu-west-1.rds.amazonaws.com', port: 3306, username: 'app_iam', region: 'eu-west-1', database: 'orders' });
 *   const [rows] = await db.query('SELECT 1');
 */
import type { SignerConfig } from '@aws-sdk/rds-signer';
import mysql from 'mysql2/promise';
import { iamAuthToken, rdsTls } from './adapters/mysql/rds.js';

/** Where to connect, and as which IAM database user. */
export interface IamConnectOptions {
  hostname: string;
  port?: number;
  username: string;
  region: string;
  database?: string;
  /** Credentials for the signer; default: the AWS SDK's default provider chain. */
  credentials?: SignerConfig['credentials'];
}

/** Raised when the token cannot be made or the server refuses it. */
export class IamConnectError extends Error {
  override name = 'IamConnectError';
}

/** Open a mysql2 connection with an IAM auth token over verified TLS. */
export async function connect(options: IamConnectOptions): Promise<mysql.Connection> {
  const port = options.port ?? 3306;
  let token: string;
  try {
    token = await iamAuthToken({
      hostname: options.hostname,
      port,
      username: options.username,
      region: options.region,
      credentials: options.credentials,
    });
  } catch (cause) {
    throw new IamConnectError(
      `IAM token for ${options.username}@${options.hostname}: ${(cause as Error).message}`,
      { cause },
    );
  }
  try {
    return await mysql.createConnection({
      host: options.hostname,
      port,
      user: options.username,
      password: token,
      database: options.database,
      ssl: rdsTls(),
      // The token travels as a cleartext password, which only TLS makes safe.
      authPlugins: { mysql_clear_password: () => () => Buffer.from(`${token}\0`) },
    });
  } catch (cause) {
    throw new IamConnectError(
      `connect to ${options.hostname}:${port} as ${options.username} with an IAM token: ${(cause as Error).message}`,
      { cause },
    );
  }
}
