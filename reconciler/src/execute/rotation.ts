/**
 * Secrets Manager rotation, with the executor as the secret's rotation function (Secrets Manager
 * lets only the rotation function rotate: it may not call another Lambda). Each step is the same
 * code as a reset from the YAML (password.ts), on the version the token names, and is idempotent
 * under Secrets Manager's retries:
 *
 *   createSecret   the new password as the token's AWSPENDING version (kept if it exists; refused
 *                  while the server holds the password another version has pending)
 *   setSecret      on the server, unless it already holds it; on MySQL 8 the old password stays
 *                  valid (RETAIN CURRENT PASSWORD) so no client is refused mid-rotation
 *   testSecret     the server holds exactly that password (its hash, or a login)
 *   finishSecret   once the server holds it (checked again), AWSCURRENT moves to the token's
 *                  version; on MySQL 8 the old password is discarded
 *
 * Only a secret of an account dbusers manages on a cluster it serves is rotated: its record in the
 * signed registry must name this secret, and the account is never a protected one. The steps after
 * createSecret act only on the token's version while it is AWSPENDING (once AWSCURRENT, they do
 * nothing), as Secrets Manager's own rotation functions check.
 */
import { passwordMatches } from '../dialect/common.js';

import { isProtected } from '../model/protected.js';
import { type AccountId, type ClusterSpec, displayAccount, ownerOf } from '../model/types.js';
import type { Database, SecretStore } from '../ports/index.js';
import { claimOf } from '../registry/registry.js';
import {
  createPending,
  type PasswordContext,
  PasswordError,
  promote,
  setOnServer,
  testLogin,
} from './password.js';

/** The event Secrets Manager sends its rotation function. */
export interface RotationEvent {
  Step: 'createSecret' | 'setSecret' | 'testSecret' | 'finishSecret';
  SecretId: string;
  ClientRequestToken: string;
  RotationToken?: string;
}

/** Raised when a secret may not be rotated here, or a step finds what it cannot repair. */
export class RotationError extends Error {
  override name = 'RotationError';
}

/** What a step needs: the password context on the cluster's admin session, and who may not be touched. */
export interface RotationContext extends PasswordContext {
  adminUsers: readonly string[];
}

/** Run one step for the secret `name` (already known to be this cluster's, by its tags); returns the account rotated. */
export async function rotationStep(
  event: RotationEvent,
  name: string,
  ctx: RotationContext,
): Promise<AccountId> {
  const account = await managedAccount(name, ctx);
  await step(event, name, account, ctx);
  return account;
}

async function step(
  event: RotationEvent,
  name: string,
  account: AccountId,
  ctx: RotationContext,
): Promise<void> {
  const token = { versionId: event.ClientRequestToken };
  // Only the version its createSecret made: another token would put an old password back on the
  // server, or promote a pending one the server does not hold. Once current, a retry has nothing
  // left to do but MySQL's discard of the old password, which a crash may have cut off.
  const stages =
    event.Step === 'createSecret' ? undefined : await ctx.secrets.versionStages(name, token.versionId);
  const promoted = stages?.includes('AWSCURRENT') === true;
  if (event.Step !== 'createSecret' && !promoted && !stages?.includes('AWSPENDING'))
    throw new RotationError(
      `secret ${name}: version ${token.versionId} is not its pending version; not rotated`,
    );
  if (promoted && event.Step !== 'finishSecret') return;
  switch (event.Step) {
    case 'createSecret': {
      if (await ctx.secrets.getValue(name, token)) return;
      const current = await ctx.secrets.getValue(name, 'AWSCURRENT');
      if (!current) throw new RotationError(`secret ${name} has no current version to rotate`);
      // A new pending version would leave the server's password in no version that counts, when the
      // server already holds the one pending (Secrets Manager starts no rotation before one ends).
      const earlier = await ctx.secrets.getValue(name, 'AWSPENDING');
      if (earlier && (await storedMatches(ctx.db, account, earlier.password)) === true)
        throw new RotationError(
          `secret ${name}: the server already holds its pending password (a rotation or reset not finished); finish that one first`,
        );
      const pending = await createPending(
        { ...ctx },
        account,
        name,
        current.dbname,
        event.ClientRequestToken,
        event.RotationToken,
      );
      if (pending.username !== account.user)
        throw new RotationError(
          `secret ${name}: its pending version is for ${pending.username}, not ${account.user}`,
        );
      return;
    }
    case 'setSecret': {
      const pending = await tokenValue(name, event, ctx.secrets);
      if ((await storedMatches(ctx.db, account, pending)) === true) return;
      if (ctx.dialect.setPasswordRetaining) {
        await ctx.db.query(ctx.dialect.setPasswordRetaining(account, pending));
        return;
      }
      await setOnServer(ctx, account, pending, true);
      return;
    }
    case 'testSecret':
      return serverHolds(name, event, account, ctx);
    case 'finishSecret':
      if (!promoted) {
        // Whatever ran before this step (Secrets Manager runs them in order; another caller may not),
        // a password becomes current only once the server holds it.
        await serverHolds(name, event, account, ctx);
        await promote(ctx, name);
      }
      if (ctx.dialect.discardOldPassword) await ctx.db.query(ctx.dialect.discardOldPassword(account));
      return;
  }
}

/** The server holds the token's password for the account: its stored hash, or a login where the hash does not tell. */
async function serverHolds(
  name: string,
  event: RotationEvent,
  account: AccountId,
  ctx: RotationContext,
): Promise<void> {
  const pending = await tokenValue(name, event, ctx.secrets);
  const matches = await storedMatches(ctx.db, account, pending);
  if (matches === false)
    throw new RotationError(
      `secret ${name}: the server does not hold the pending password of ${displayAccount(account)}`,
    );
  if (matches === undefined) await testLogin(ctx, account, pending);
}

/** The account whose password the secret holds, by the signed registry; never a protected one. */
async function managedAccount(name: string, ctx: RotationContext): Promise<AccountId> {
  const key = await ctx.secrets.registryKey(false);
  const claim = key ? await claimOf(ctx.db, name, ownerOf(ctx.target), key) : undefined;
  if (!claim)
    throw new RotationError(
      `secret ${name} holds the password of no account dbusers manages on cluster ${ctx.target.name}; not rotated`,
    );
  if (isProtected(claim, { adminUsers: ctx.adminUsers, listed: ctx.target.protectedAccounts })) {
    throw new RotationError(
      `secret ${name} belongs to ${displayAccount(claim)}, a protected account; not rotated`,
    );
  }
  return { user: claim.user, host: claim.host };
}

async function tokenValue(name: string, event: RotationEvent, secrets: SecretStore): Promise<string> {
  const value = await secrets.getValue(name, { versionId: event.ClientRequestToken });
  if (!value?.password)
    throw new RotationError(
      `secret ${name} has no version ${event.ClientRequestToken} (createSecret did not run?)`,
    );
  return value.password;
}

/** Whether the server's stored hash is this password's; undefined where the format does not tell. */
async function storedMatches(db: Database, a: AccountId, password: string): Promise<boolean | undefined> {
  const [row] = await db.query<{ plugin: string; auth: string }>(
    'SELECT plugin, authentication_string AS auth FROM mysql.user WHERE BINARY User = ? AND BINARY Host = ?',
    [a.user, a.host],
  );
  if (!row) throw new PasswordError(`the server has no account ${displayAccount(a)}`, a);
  return passwordMatches(String(row.plugin ?? ''), String(row.auth ?? ''), password);
}

/** The secret's cluster, from the tags dbusers puts on every secret it makes. */
export function clusterOfSecret(
  tags: Record<string, string>,
  clusters: readonly ClusterSpec[],
): ClusterSpec | undefined {
  if (tags['managed-by'] !== 'dbusers') return undefined;
  return clusters.find((c) => c.name === tags['dbusers:cluster'] && c.account === tags['dbusers:account']);
}
