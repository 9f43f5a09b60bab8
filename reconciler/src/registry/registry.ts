/**
 * The ownership registry: a small table on the target server listing the accounts dbusers created
 * or adopted. MariaDB has no user COMMENT/ATTRIBUTE, and a table works on every engine. A row is
 * written before its account is created and removed after it is dropped, so a crash in between
 * leaves a claim on a missing account (which the next run repairs), never an orphan account.
 */
import type { Database } from '../ports/database.js';
import type { AccountId, OwnershipRecord } from '../model/types.js';

/** Schema and table of the registry. */
export const REGISTRY_SCHEMA = '_dbusers';
export const REGISTRY_TABLE = `${REGISTRY_SCHEMA}.managed_accounts`;

/** Read by inspection; a missing or unreadable registry reads as empty (nothing is ours). */
export const REGISTRY_QUERY = `SELECT user, host, kind, secret_name, owner FROM ${REGISTRY_TABLE}`;

/** Registry rows → ownership records. */
export function readRegistry(rows: Record<string, unknown>[]): OwnershipRecord[] {
  return rows
    .filter((r) => r.kind === 'user' || r.kind === 'role')
    .map((r) => ({
      user: String(r.user),
      host: String(r.host),
      kind: r.kind as 'user' | 'role',
      secretName: r.secret_name ? String(r.secret_name) : undefined,
      owner: String(r.owner ?? ''),
    }));
}

/** Create the registry if it does not exist yet. */
export async function ensureRegistry(db: Database): Promise<void> {
  await db.query(`CREATE DATABASE IF NOT EXISTS ${REGISTRY_SCHEMA}`);
  await db.query(
    `CREATE TABLE IF NOT EXISTS ${REGISTRY_TABLE} (
       user VARCHAR(128) NOT NULL, host VARCHAR(255) NOT NULL, kind ENUM('user','role') NOT NULL,
       secret_name VARCHAR(512) NULL, owner VARCHAR(200) NOT NULL, claimed_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
       PRIMARY KEY (user, host)
     ) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
  );
  await db.query(
    `CREATE TABLE IF NOT EXISTS ${BATCHES_TABLE} (
       id VARCHAR(128) NOT NULL PRIMARY KEY, result MEDIUMTEXT NOT NULL,
       completed_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
     ) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
  );
}

/** Completed batches by idempotency key, with their results (which never hold a password). */
export const BATCHES_TABLE = `${REGISTRY_SCHEMA}.completed_batches`;

/** The recorded result of a batch that already succeeded, if any. */
export async function completedBatch(db: Database, id: string): Promise<string | undefined> {
  const [row] = await db.query<{ result: string }>(`SELECT result FROM ${BATCHES_TABLE} WHERE id = ?`, [id]);
  return row?.result;
}

/** Record a successful batch so a redelivery is answered without running it again. */
export async function recordBatch(db: Database, id: string, result: string): Promise<void> {
  await db.query(`INSERT IGNORE INTO ${BATCHES_TABLE} (id, result) VALUES (?, ?)`, [id, result]);
}

/**
 * Claim accounts before they are created or adopted: one statement per 500 accounts. A claim
 * never takes an account from another owner; returns the accounts another owner holds.
 */
export async function claimAll(db: Database, records: readonly OwnershipRecord[]): Promise<Set<string>> {
  for (let i = 0; i < records.length; i += 500) {
    const chunk = records.slice(i, i + 500);
    await db.query(
      `INSERT INTO ${REGISTRY_TABLE} (user, host, kind, secret_name, owner) VALUES ${chunk.map(() => '(?, ?, ?, ?, ?)').join(', ')}
       ON DUPLICATE KEY UPDATE secret_name = IF(owner = VALUES(owner), VALUES(secret_name), secret_name),
                               kind = IF(owner = VALUES(owner), VALUES(kind), kind)`,
      chunk.flatMap((r) => [r.user, r.host, r.kind, r.secretName ?? null, r.owner]),
    );
  }
  const owners = new Set(records.map((r) => r.owner));
  const held = records.length === 0 ? [] : readRegistry(await db.query(REGISTRY_QUERY));
  const wanted = new Set(records.map((r) => `${r.user}\0${r.host}`));
  return new Set(held.filter((h) => wanted.has(`${h.user}\0${h.host}`) && !owners.has(h.owner)).map((h) => `${h.user}\0${h.host}`));
}

/** Release an account after it is dropped (only the owner's claim). */
export async function release(db: Database, account: AccountId, owner: string): Promise<void> {
  await db.query(`DELETE FROM ${REGISTRY_TABLE} WHERE user = ? AND host = ? AND owner = ?`, [account.user, account.host, owner]);
}
