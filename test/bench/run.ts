/**
 * Benchmarks, run by hand (`npm run bench`), printed as a table; never a timed test.
 *
 * 1. inspect + plan of N accounts, against the raw bulk read (the same queries, nothing else) and
 *    against one SHOW GRANTS per account, in the same run on the same server. Target: ≤ 1.5× raw.
 *    Beside them, in runs of their own against the raw read again, two references: the floor, the
 *    least any planner must do with those rows (see `floor`), and `lean`, the floor plus the least a
 *    plan needs beyond it, with none of the product's checks.
 * 2. apply of 1,000 new password users through the executor, against the same statements piped to
 *    the `mariadb` client. Target (set before every created user got an existence check): ≤ 1.3× raw.
 *
 * Sizes: BENCH_SIZES=1000,10000 (default); BENCH_APPLY=1000. Timings are medians of 11 runs after 5
 * warm-up runs (raw and ours alternating); apply runs once (it creates users).
 */
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedMariadb } from '../../reconciler/src/adapters/local/embedded-mariadb.js';
import { FileSecretStore } from '../../reconciler/src/adapters/local/file-secret-store.js';
import { connect, parseDatabaseUrl, type Database } from '../../reconciler/src/adapters/mysql/database.js';
import {
  decodeAccessBits,
  privilegeOfColumn,
  privilegesOfSet,
} from '../../reconciler/src/dialect/privileges.js';
import { executeBatch } from '../../reconciler/src/execute/executor.js';
import {
  type BulkQueries,
  bulkQueries,
  inOrder,
  inspect,
  SERVER_QUERY,
} from '../../reconciler/src/inspect/inspect.js';
import { PACK_ABOVE, packInspect } from '../../reconciler/src/adapters/aws/inspect-payload.js';
import {
  type Action,
  type ActualState,
  type DesiredAccount,
  type Grant,
  ownerOf,
} from '../../reconciler/src/model/types.js';
import { plan } from '../../reconciler/src/plan/plan.js';
import {
  REGISTRY_TABLE,
  ensureRegistry,
  readRegistry,
  registryMac,
  sealRegistry,
} from '../../reconciler/src/registry/registry.js';
import { sameGrants } from '../../reconciler/src/model/grants.js';
import { decodeDatabasePattern, quoteString } from '../../reconciler/src/sql/escape.js';
import { ordersCluster } from '../support/fixtures.js';
import { medians } from './timing.js';

const sizes = (process.env.BENCH_SIZES ?? '1000,10000').split(',').map(Number);
const applySize = Number(process.env.BENCH_APPLY ?? 1000);
const REPEAT = 11;
const WARMUP = 5;

/** Medians of `REPEAT` runs after `WARMUP` runs (so the JIT has compiled each), alternating, in milliseconds. */
const TIMING = { warmup: WARMUP, repeat: REPEAT };

const grantsOf = (i: number): Grant[] => [
  { level: 'database', database: `db${i % 50}`, privilege: 'SELECT' },
  { level: 'table', database: 'bench', table: 't', privilege: 'SELECT' },
];

async function seed(db: Database, from: number, to: number, key: string): Promise<void> {
  await db.query('CREATE DATABASE IF NOT EXISTS bench');
  await db.query('CREATE TABLE IF NOT EXISTS bench.t (id INT)');
  await ensureRegistry(db);
  for (let i = from; i < to; i++) {
    const who = `'u${i}'@'%'`;
    await db.query(`CREATE USER ${who} IDENTIFIED BY 'pw${i}'`);
    await db.query(`GRANT SELECT ON \`db${i % 50}\`.* TO ${who}`);
    await db.query(`GRANT SELECT ON bench.t TO ${who}`);
  }
  // Signed as the executor signs them: inspection verifies every row.
  const owner = ownerOf(ordersCluster);
  const rows = Array.from({ length: to - from }, (_, k) => {
    const record = { user: `u${from + k}`, host: '%', kind: 'user' as const, owner };
    return `('${record.user}', '%', 'user', NULL, '${owner}', '${registryMac(key, record)}')`;
  });
  for (let k = 0; k < rows.length; k += 1000) {
    await db.query(
      `INSERT INTO ${REGISTRY_TABLE} (user, host, kind, secret_name, owner, mac) VALUES ${rows.slice(k, k + 1000).join(', ')}`,
    );
  }
  await sealRegistry(db, key);
}

/** Every query inspect sends, in its order. */
function inspectSql(bulk: BulkQueries): string[] {
  return [SERVER_QUERY, ...bulk.sql];
}

/**
 * A reference, not a product path: the least any planner must do with the rows of the raw bulk read
 * (MariaDB), its queries sent one ahead as inspect sends them. Decode each account's `Priv` JSON,
 * index the accounts by user, attach each `mysql.db` and `tables_priv` row to its account, MAC the
 * registry rows' text, and find each declared account. No grant objects, no comparison, no plan:
 * a real reading of the rows costs more than this.
 */
async function floor(db: Database, bulk: BulkQueries, key: string, desired: DesiredAccount[]): Promise<void> {
  const take = inOrder(db, inspectSql(bulk));
  await take();
  await take();
  let text = '';
  for (const r of await take()) text += `${r.user}\0${r.host}\0${r.kind}\0${r.secret_name}\0${r.owner}\n`;
  createHmac('sha256', key).update(text).digest('hex');
  const byUser = new Map<unknown, { host: unknown; access: unknown; grants: unknown[] }>();
  for (const q of bulk.queries) {
    const rows = await take();
    if (q.name === 'accounts')
      for (const r of rows)
        byUser.set(r.User, { host: r.Host, access: JSON.parse(String(r.Priv)).access, grants: [] });
    else if (q.name === 'db' || q.name === 'tables')
      for (const r of rows) {
        const account = byUser.get(r.User);
        if (account !== undefined && account.host === r.Host) account.grants.push(r);
      }
  }
  for (const d of desired)
    if (!byUser.has(d.user)) throw new Error(`bench: floor: ${d.user} not on the server`);
}

/** One account as `lean` holds it: the fields a plan reads, the other hosts of its user chained. */
interface LeanAccount {
  host: unknown;
  kind: 'user' | 'role';
  auth: string;
  plugin: unknown;
  locked: boolean;
  changed: unknown;
  hash: unknown;
  defaultRole: unknown;
  grants: Grant[];
  claimed: boolean;
  declared: boolean;
  next: LeanAccount | undefined;
}

/**
 * A reference, not a product path: the floor plus the least a plan needs beyond it, written with no
 * abstraction (MariaDB). One object per account with the fields a plan reads, its grants attached as
 * objects shared between accounts, the registry read as inspection reads it, each claim
 * attached to its account, each declared account found and its grants compared, and undeclared
 * owned accounts found. No protected-account, password, role, policy or missing-object checks, no
 * actions built: the product does all of these, so it cannot be faster than this.
 */
async function lean(db: Database, bulk: BulkQueries, key: string, desired: DesiredAccount[]): Promise<void> {
  const take = inOrder(db, inspectSql(bulk));
  await take();
  const [seal] = await take();
  // The product's own check: records, the seal's text and its MAC.
  const { owned, unverified } = readRegistry(await take(), key, seal?.mac);
  if (unverified.length > 0) throw new Error('bench: lean: registry rows that do not verify');
  const byUser = new Map<unknown, LeanAccount>();
  const accounts: LeanAccount[] = [];
  const find = (user: unknown, host: unknown) => {
    let a = byUser.get(user);
    while (a !== undefined && a.host !== host) a = a.next;
    return a;
  };
  for (const q of bulk.queries) {
    const rows = await take();
    if (q.name === 'accounts')
      for (const r of rows) {
        const priv = JSON.parse(String(r.Priv));
        const a: LeanAccount = {
          host: r.Host,
          kind: priv.is_role ? 'role' : 'user',
          auth: priv.authentication_string ? 'password' : 'none',
          plugin: priv.plugin,
          locked: priv.account_locked === true,
          changed: priv.password_last_changed,
          hash: priv.authentication_string,
          defaultRole: priv.default_role,
          grants: [],
          claimed: false,
          declared: false,
          next: byUser.get(r.User),
        };
        for (const privilege of decodeAccessBits(priv.access)) a.grants.push({ level: 'global', privilege });
        byUser.set(r.User, a);
        accounts.push(a);
      }
    else if (q.name === 'db') {
      const privileges = bulk.dbColumns.map(privilegeOfColumn);
      const shared = new Map<unknown, Grant[]>();
      for (const r of rows) {
        const a = find(r.User, r.Host);
        if (a === undefined) continue;
        let grants = shared.get(r.Db);
        if (grants === undefined) {
          const { database } = decodeDatabasePattern(String(r.Db));
          grants = privileges.map((privilege): Grant => ({ level: 'database', database, privilege }));
          shared.set(r.Db, grants);
        }
        const held = String(r.privileges);
        for (let i = 0; i < grants.length; i++) if (held[i] === 'Y') a.grants.push(grants[i]!);
      }
    } else if (q.name === 'tables') {
      let last: Record<string, unknown> | undefined;
      let grants: Grant[] = [];
      for (const r of rows) {
        const a = find(r.User, r.Host);
        if (a === undefined) continue;
        if (
          last === undefined ||
          last.Db !== r.Db ||
          last.Table_name !== r.Table_name ||
          last.Table_priv !== r.Table_priv
        ) {
          const [database, table] = [String(r.Db), String(r.Table_name)];
          grants = privilegesOfSet(r.Table_priv).map((privilege) => ({
            level: 'table',
            database,
            table,
            privilege,
          }));
          last = r;
        }
        for (const g of grants) a.grants.push(g);
      }
    }
  }
  for (const o of owned) {
    const a = find(o.user, o.host);
    if (a !== undefined) a.claimed = true;
  }
  let changes = 0;
  for (const d of desired) {
    const a = find(d.user, d.host);
    if (a === undefined || !a.claimed || !sameGrants(d.grants, a.grants)) changes++;
    else a.declared = true;
  }
  for (const a of accounts) if (a.claimed && !a.declared) changes++;
  if (changes !== 0) throw new Error(`bench: lean: ${changes} changes`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dbusers-bench-'));
  const server = await startEmbeddedMariadb(dir);
  const spec = parseDatabaseUrl(server.url);
  const db = await connect(spec);
  const rows: string[][] = [];
  try {
    const [facts] = await db.query(SERVER_QUERY);
    const version = String(facts?.version);
    const bulk = bulkQueries(facts);
    // The runtime moves these numbers: the Lambdas run Node.js 24, the CLI 20.19+.
    console.log(`Node.js ${process.version}, MariaDB ${version}`);
    let seeded = 0;
    const store = new FileSecretStore(join(dir, 'secrets'));
    const key = (await store.registryKey(true))!;
    for (const n of sizes) {
      await seed(db, seeded, n, key);
      seeded = n;
      const desired: DesiredAccount[] = Array.from({ length: n }, (_, i) => ({
        kind: 'user',
        user: `u${i}`,
        host: '%',
        cluster: 'orders',
        auth: 'none',
        grants: grantsOf(i),
        roles: [],
        adopt: false,
        iamPrincipals: [],
        source: 'bench',
      }));
      let changes = -1;
      let answer: ActualState | undefined;
      // The raw bulk read: exactly the SQL inspect sends, with no processing of the rows.
      const rawRead = async () => {
        for (const sql of inspectSql(bulk)) await db.query(sql);
      };
      const [raw, ours] = await medians(
        [
          rawRead,
          async () => {
            const actual = await inspect(db, { cluster: 'orders', engine: 'mariadb', secrets: store });
            answer = actual;
            changes = plan({ cluster: ordersCluster, accounts: desired }, actual, { now: 0 }).actions.length;
          },
        ],
        TIMING,
      );
      // The references in runs of their own, so their garbage does not weigh on the runs above.
      const [rawAgain, least, leanest] = await medians(
        [rawRead, () => floor(db, bulk, key, desired), () => lean(db, bulk, key, desired)],
        TIMING,
      );
      if (changes !== 0)
        throw new Error(`bench: expected an empty plan over ${n} seeded accounts, got ${changes} actions`);
      const [showGrants] = await medians(
        [
          async () => {
            const accounts = await db.query<{ User: string; Host: string }>(
              'SELECT User, Host FROM mysql.global_priv',
            );
            for (const a of accounts)
              await db
                .query(`SHOW GRANTS FOR ${quoteString(a.User)}@${quoteString(a.Host)}`)
                .catch(() => undefined);
          },
        ],
        TIMING,
      );
      const against = (what: string, baseline: number, ms: number, note: string) =>
        rows.push([
          `${what}, ${n} accounts`,
          `${baseline.toFixed(0)} ms raw bulk read`,
          `${ms.toFixed(0)} ms`,
          `${(ms / baseline).toFixed(2)}×`,
          note,
        ]);
      against(
        'inspect + plan',
        raw,
        ours,
        `SHOW GRANTS per account: ${showGrants.toFixed(0)} ms (${(showGrants / ours).toFixed(1)}× ours)`,
      );
      against(
        'floor',
        rawAgain,
        least,
        'the least any planner does with these rows (decode Priv, index, attach grant rows, MAC the registry)',
      );
      against(
        'lean',
        rawAgain,
        leanest,
        'the floor plus account objects, shared grants, claims and the comparison, with no other check',
      );
      // What the executor's inspect answer weighs on the wire (Lambda returns at most 6 MB).
      const json = JSON.stringify(answer).length;
      const packed = JSON.stringify(packInspect(answer!)).length;
      rows.push([
        `inspect answer, ${n} accounts`,
        `${(json / 1024).toFixed(0)} KiB JSON (${(json / n).toFixed(0)} B/account)`,
        `${(packed / 1024).toFixed(0)} KiB sent`,
        `${(packed / json).toFixed(2)}×`,
        json > PACK_ABOVE ? 'gzip + base64 (over 256 KiB)' : 'sent as JSON (under 256 KiB)',
      ]);
    }

    // Apply: N new users, each a CREATE USER and two GRANTs (the statements the raw client runs too).
    const actions: Action[] = Array.from({ length: applySize }, (_, i) => ({
      kind: 'create_user',
      user: `a${i}`,
      host: '%',
      auth: 'password',
      adopt: false,
      secretName: `bench-a${i}`,
      grants: grantsOf(i),
      roles: [],
      reason: 'missing',
    }));
    const sql = Array.from({ length: applySize }, (_, i) =>
      [
        `CREATE USER 'r${i}'@'%' IDENTIFIED BY 'Pw${i}xxxxxxxxxxxxxxxxxxxxxxxxxxxxx';`,
        `GRANT SELECT ON \`db${i % 50}\`.* TO 'r${i}'@'%';`,
        `GRANT SELECT ON bench.t TO 'r${i}'@'%';`,
      ].join('\n'),
    ).join('\n');
    const rawStart = performance.now();
    execFileSync('mariadb', ['-uroot', '-h127.0.0.1', `-P${spec.port}`], { input: sql });
    const rawApply = performance.now() - rawStart;
    const start = performance.now();
    const result = await executeBatch(
      { target: { ...ordersCluster, databases: ['bench'] }, actions },
      { db, secrets: store, connectAs: (user, password) => connect({ ...spec, user, password }) },
    );
    const ourApply = performance.now() - start;
    if (!result.ok)
      throw new Error(
        `bench: apply failed: ${JSON.stringify(result.results.find((r) => r.status !== 'ok'))}`,
      );
    rows.push([
      `apply ${applySize} new users`,
      `${rawApply.toFixed(0)} ms same SQL piped to mariadb`,
      `${ourApply.toFixed(0)} ms`,
      `${(ourApply / rawApply).toFixed(2)}×`,
      'each with a secret (pending → create → promote) and an ownership record',
    ]);
  } finally {
    await db.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const header = ['what', 'baseline', 'dbusers', 'ratio', 'note'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(
    [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n'),
  );
}

await main();
