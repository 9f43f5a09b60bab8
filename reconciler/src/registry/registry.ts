/**
 * The ownership registry: a small table on the target server listing the accounts dbusers created
 * or adopted. MariaDB has no user COMMENT/ATTRIBUTE, and a table works on every engine. A row is
 * written before its account is created and removed after it is dropped, so a crash in between
 * leaves a claim on a missing account (which the next run repairs), never an orphan account.
 *
 * Anyone with INSERT on the table could otherwise make dbusers delete any account: each row carries
 * an HMAC keyed by a secret that lives in the secret store (never on the server), and a row whose
 * MAC does not verify is reported, never honoured. One more HMAC over all rows (the seal, renewed at
 * the end of every batch) lets inspection verify the whole table at once; only when the seal does
 * not match (a crash before the renewal, or a hand-made change) is each row checked on its own.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { repeatedText } from '../dialect/common.js';
import type { AccountId, OwnershipRecord } from '../model/types.js';
import type { Database } from '../ports/database.js';

/** Schema and table of the registry. */
export const REGISTRY_SCHEMA = '_dbusers';
export const REGISTRY_TABLE = `${REGISTRY_SCHEMA}.managed_accounts`;

/** Read by inspection, in key order (the seal covers the rows in that order); a missing or unreadable registry reads as empty. */
export const REGISTRY_QUERY = `SELECT user, host, kind, secret_name, owner, mac FROM ${REGISTRY_TABLE} ORDER BY user, host`;

/** The seal over every row. */
export const SEAL_TABLE = `${REGISTRY_SCHEMA}.registry_seal`;
export const SEAL_QUERY = `SELECT mac FROM ${SEAL_TABLE} WHERE id = 1`;

/** What a MAC covers of a row: every field that decides what dbusers may do with the account. */
function rowText(r: OwnershipRecord): string {
  return JSON.stringify([r.user, r.host, r.kind, r.secretName ?? null, r.owner]);
}

/** The MAC of one row. */
export function registryMac(key: string, r: OwnershipRecord): string {
  return createHmac('sha256', key).update(rowText(r)).digest('hex');
}

/**
 * The seal: one MAC over every row, in key order (one text, hashed at once). The text is the JSON
 * of each field's column: the users, then the hosts, kinds, secrets and owners as runs of equal
 * values (`["%", 10000]`: most rows share them). No two registries give the same text, and
 * JSON.stringify writes it in one native pass, with none of the intermediate strings a text built
 * row by row makes (10,000 rows: a third of the time, a fifth of the garbage). A seal in an older
 * format does not match: inspection then checks each row's own MAC, and the next batch writes this one.
 */
function sealOf(key: string, records: readonly OwnershipRecord[]): string {
  const text = JSON.stringify([
    records.map((r) => r.user),
    runs(records, (r) => r.host),
    runs(records, (r) => r.kind),
    runs(records, (r) => r.secretName ?? null),
    runs(records, (r) => r.owner),
  ]);
  return createHmac('sha256', key).update(text).digest('hex');
}

/** Each run of records with an equal `value` as that value and the run's length: `a a a b` → `a 3 b 1`. */
function runs(records: readonly OwnershipRecord[], value: (r: OwnershipRecord) => unknown): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < records.length; ) {
    const v = value(records[i]!);
    let end = i + 1;
    while (end < records.length && value(records[end]!) === v) end++;
    out.push(v, end - i);
    i = end;
  }
  return out;
}

function verifies(key: string | undefined, r: OwnershipRecord, mac: unknown): boolean {
  if (!key || typeof mac !== 'string' || mac.length !== 64) return false;
  return timingSafeEqual(Buffer.from(registryMac(key, r)), Buffer.from(mac));
}

/**
 * Registry rows → ownership records whose MAC verifies, and the accounts of rows that do not. With
 * a matching seal every row verifies at once.
 */
export function readRegistry(
  rows: Record<string, unknown>[],
  key: string | undefined,
  seal?: unknown,
): { owned: OwnershipRecord[]; unverified: AccountId[] } {
  const ownerText = repeatedText();
  const records = rows.map(
    (r): OwnershipRecord => ({
      user: String(r.user),
      host: String(r.host),
      kind: r.kind === 'role' ? 'role' : 'user',
      secretName: r.secret_name ? String(r.secret_name) : undefined,
      owner: ownerText(r.owner),
    }),
  );
  if (
    key &&
    typeof seal === 'string' &&
    seal.length === 64 &&
    timingSafeEqual(Buffer.from(sealOf(key, records)), Buffer.from(seal))
  ) {
    return { owned: records, unverified: [] };
  }
  const owned: OwnershipRecord[] = [];
  const unverified: AccountId[] = [];
  records.forEach((record, i) => {
    if (verifies(key, record, rows[i]!.mac)) owned.push(record);
    else unverified.push({ user: record.user, host: record.host });
  });
  return { owned, unverified };
}

/** Renew the seal over the rows as they are now (the executor does, under the cluster lock, after each batch). */
export async function sealRegistry(db: Database, key: string): Promise<void> {
  const { owned } = readRegistry(await db.query(REGISTRY_QUERY), key);
  await db.query(`REPLACE INTO ${SEAL_TABLE} (id, mac) VALUES (1, ?)`, [sealOf(key, owned)]);
}

/** Create the registry if it does not exist yet (and add the MAC column to a registry made before it). */
export async function ensureRegistry(db: Database): Promise<void> {
  await db.query(`CREATE DATABASE IF NOT EXISTS ${REGISTRY_SCHEMA}`);
  await db.query(
    `CREATE TABLE IF NOT EXISTS ${REGISTRY_TABLE} (
       user VARCHAR(128) NOT NULL, host VARCHAR(255) NOT NULL, kind ENUM('user','role') NOT NULL,
       secret_name VARCHAR(512) NULL, owner VARCHAR(200) NOT NULL, mac CHAR(64) NULL,
       claimed_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
       PRIMARY KEY (user, host)
     ) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
  );
  const [mac] = await db.query<{ n: number }>(
    "SELECT COUNT(*) AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'managed_accounts' AND COLUMN_NAME = 'mac'",
    [REGISTRY_SCHEMA],
  );
  if (Number(mac?.n) === 0) await db.query(`ALTER TABLE ${REGISTRY_TABLE} ADD COLUMN mac CHAR(64) NULL`);
  await db.query(
    `CREATE TABLE IF NOT EXISTS ${SEAL_TABLE} (id TINYINT NOT NULL PRIMARY KEY, mac CHAR(64) NOT NULL)`,
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

/** How long a completed batch answers its redeliveries: EventBridge and SSM redeliver within hours. */
export const LEDGER_DAYS = 7;

/** The recorded result of a batch that already succeeded, if any (records expire). */
export async function completedBatch(db: Database, id: string): Promise<string | undefined> {
  const [row] = await db.query<{ result: string }>(
    `SELECT result FROM ${BATCHES_TABLE} WHERE id = ? AND completed_at > NOW() - INTERVAL ${LEDGER_DAYS} DAY`,
    [id],
  );
  return row?.result;
}

/** Record a successful batch so a redelivery is answered without running it again; expired records go. */
export async function recordBatch(db: Database, id: string, result: string): Promise<void> {
  await db.query(`DELETE FROM ${BATCHES_TABLE} WHERE completed_at < NOW() - INTERVAL ${LEDGER_DAYS} DAY`);
  await db.query(`INSERT IGNORE INTO ${BATCHES_TABLE} (id, result) VALUES (?, ?)`, [id, result]);
}

/**
 * Claim accounts before they are created or adopted: one statement per 500 accounts. A claim
 * never takes an account from another owner whose row verifies; a row that does not verify (forged
 * or left by an older version) is replaced. Returns the accounts another owner holds.
 */
export async function claimAll(
  db: Database,
  records: readonly OwnershipRecord[],
  key: string,
): Promise<Set<string>> {
  if (records.length === 0) return new Set();
  const wanted = new Set(records.map((r) => `${r.user}\0${r.host}`));
  const before = readRegistry(await db.query(REGISTRY_QUERY), key);
  const forged = before.unverified.filter((a) => wanted.has(`${a.user}\0${a.host}`));
  for (const a of forged)
    await db.query(`DELETE FROM ${REGISTRY_TABLE} WHERE user = ? AND host = ?`, [a.user, a.host]);
  for (let i = 0; i < records.length; i += 500) {
    const chunk = records.slice(i, i + 500);
    await db.query(
      `INSERT INTO ${REGISTRY_TABLE} (user, host, kind, secret_name, owner, mac) VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?)').join(', ')}
       ON DUPLICATE KEY UPDATE secret_name = IF(owner = VALUES(owner), VALUES(secret_name), secret_name),
                               kind = IF(owner = VALUES(owner), VALUES(kind), kind),
                               mac = IF(owner = VALUES(owner), VALUES(mac), mac)`,
      chunk.flatMap((r) => [r.user, r.host, r.kind, r.secretName ?? null, r.owner, registryMac(key, r)]),
    );
  }
  // Read after writing: another cluster's batch on the same server may have claimed one first.
  const owners = new Set(records.map((r) => r.owner));
  const after = readRegistry(await db.query(REGISTRY_QUERY), key).owned;
  const held = after.filter((h) => wanted.has(`${h.user}\0${h.host}`) && !owners.has(h.owner));
  return new Set(held.map((h) => `${h.user}\0${h.host}`));
}

/** The verified record of the account whose secret is `secretName`, for one owner. */
export async function claimOf(
  db: Database,
  secretName: string,
  owner: string,
  key: string,
): Promise<OwnershipRecord | undefined> {
  const rows = await db.query(
    `${REGISTRY_QUERY.replace(' ORDER BY', ' WHERE secret_name = ? AND owner = ? ORDER BY')}`,
    [secretName, owner],
  );
  return readRegistry(rows, key).owned[0];
}

/** Release an account after it is dropped (only the owner's claim). */
export async function release(db: Database, account: AccountId, owner: string): Promise<void> {
  await db.query(`DELETE FROM ${REGISTRY_TABLE} WHERE user = ? AND host = ? AND owner = ?`, [
    account.user,
    account.host,
    owner,
  ]);
}
