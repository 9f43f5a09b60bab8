/**
 * The password protocol, in the four steps Secrets Manager's rotation uses, so a reset from the
 * YAML and a rotation run the same code:
 *
 *   1 createPending  the new password as the secret's AWSPENDING version (or the one an interrupted
 *                    run left there: never a second new password for the same change)
 *   2 setOnServer    the account's password on the server, then a check that the account exists
 *                    under exactly that name (a server that stores another spelling fails here)
 *   3 testLogin      a login with the pending password (existing accounts: one that had none has
 *                    nothing to lose)
 *   4 promote        AWSPENDING becomes AWSCURRENT
 *
 * A crash between any two steps leaves the server's password in the current or the pending
 * version; the next run finishes the job with the pending value.
 */
import type { Dialect } from '../dialect/index.js';
import { type AccountId, type ClusterSpec, displayAccount } from '../model/types.js';
import type { Database, RdsCredentials, SecretStore } from '../ports/index.js';

/** Raised when a step fails; the account and the step say where. */
export class PasswordError extends Error {
  override name = 'PasswordError';
  constructor(
    message: string,
    readonly account: AccountId,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** What the steps need. */
export interface PasswordContext {
  db: Database;
  dialect: Dialect;
  secrets: SecretStore;
  target: ClusterSpec;
  /** Open a connection as another account, to test a new password. */
  connectAs(user: string, password: string): Promise<Database>;
  /** Also write the seed's `db_name` key, for tools built on the seed. */
  seedSecrets?: boolean;
}

/** Step 1: the pending value, made now or reused from an interrupted run. */
export async function createPending(
  ctx: PasswordContext,
  a: AccountId,
  secretName: string,
  database?: string,
  versionId?: string,
  rotationToken?: string,
): Promise<RdsCredentials> {
  // A rotation always writes the version its token names; a reset reuses what an interrupted one left.
  const pending = versionId ? undefined : await ctx.secrets.getValue(secretName, 'AWSPENDING');
  if (pending && pending.username === a.user) return pending;
  const { target } = ctx;
  const dbname = database ?? target.databases[0];
  const value: RdsCredentials = {
    engine: target.engine,
    host: target.endpoint,
    port: target.port,
    username: a.user,
    password: await ctx.secrets.randomPassword(),
    dbname,
    masterarn: target.masterSecretArn,
    ...(ctx.seedSecrets ? { db_name: dbname } : {}),
  };
  await ctx.secrets.putPending(secretName, value, versionId, rotationToken);
  return value;
}

/** Step 2: create the account with the password, or change its password; then check the server holds it under this name. */
export async function setOnServer(
  ctx: PasswordContext,
  a: AccountId,
  password: string,
  exists: boolean,
): Promise<void> {
  await ctx.db.query(exists ? ctx.dialect.setPassword(a, password) : ctx.dialect.createUser(a, { password }));
  const [row] = await ctx.db.query<{ n: number }>(
    'SELECT COUNT(*) AS n FROM mysql.user WHERE BINARY User = ? AND BINARY Host = ?',
    [a.user, a.host],
  );
  if (Number(row?.n) !== 1) {
    throw new PasswordError(
      `the server does not hold an account named exactly ${displayAccount(a)} after setting its password; the secret keeps the pending value and is not promoted`,
      a,
    );
  }
}

/** Step 3: log in with the new password as that very account. */
export async function testLogin(ctx: PasswordContext, a: AccountId, password: string): Promise<void> {
  let conn: Database | undefined;
  try {
    conn = await ctx.connectAs(a.user, password);
    const [row] = await conn.query<{ me: string }>('SELECT CURRENT_USER() AS me');
    if (row?.me !== `${a.user}@${a.host}`)
      throw new Error(`logged in as ${row?.me}, not ${a.user}@${a.host}`);
  } catch (cause) {
    throw new PasswordError(
      `login test with the new password failed (the pending secret version holds it; the next run retries): ${(cause as Error).message}`,
      a,
      { cause },
    );
  } finally {
    await conn?.close();
  }
}

/** Step 4: the tested password becomes the secret's current value. */
export function promote(ctx: PasswordContext, secretName: string): Promise<void> {
  return ctx.secrets.promotePending(secretName);
}
