/**
 * The whole `dbusers plan`, run by hand (`npm run bench:plan`), never a timed test: N password users
 * declared in one account file and applied by `dbusers apply` itself (so the server, the registry
 * and the secrets are exactly what the product leaves), then `dbusers plan` in-process against a
 * process that only parses the same YAML and runs the same bulk queries. Target: ≤ 1.5×.
 *
 * BENCH_PLAN_SIZE=10000 (default). Timings are medians of 11 runs of each after 3 warm-up runs,
 * the two alternating so that both see the same machine (this one's speed drifts by ±20%).
 * BENCH_PLAN_DIR=folder keeps the server, the users and the state there, and reuses them on the next
 * run (the setup takes minutes; the folder is made for one size).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startEmbeddedMariadb } from '../../reconciler/src/adapters/local/embedded-mariadb.js';
import { connect, parseDatabaseUrl } from '../../reconciler/src/adapters/mysql/database.js';
import { main as cli } from '../../reconciler/src/cli/main.js';
import { bulkQueries, SERVER_QUERY } from '../../reconciler/src/inspect/inspect.js';
import { medians } from './timing.js';

const size = Number(process.env.BENCH_PLAN_SIZE ?? 10_000);

async function main(): Promise<void> {
  const kept = process.env.BENCH_PLAN_DIR;
  const dir = kept ?? mkdtempSync(join(tmpdir(), 'dbusers-bench-plan-'));
  const reused = kept !== undefined && existsSync(join(dir, 'state'));
  const server = await startEmbeddedMariadb(join(dir, 'server'));
  const spec = parseDatabaseUrl(server.url);
  const db = await connect(spec);
  const quiet = { out: () => undefined, err: () => undefined };
  try {
    await db.query('CREATE DATABASE IF NOT EXISTS bench');
    await db.query('CREATE TABLE IF NOT EXISTS bench.t (id INT)');
    for (let i = 0; i < 50; i++) await db.query(`CREATE DATABASE IF NOT EXISTS db${i}`);
    const users = Array.from(
      { length: size },
      (_, i) =>
        `  - { name: u${i}, cluster: orders, grants: [{ on: "db${i % 50}.*", privileges: [SELECT] }, { on: "bench.t", privileges: [SELECT] }] }`,
    );
    const folder = join(dir, 'users');
    mkdirSync(folder, { recursive: true });
    const file = join(folder, 'payments-prod.yaml');
    writeFileSync(
      file,
      `account: "111122223333"\nalias: payments-prod\nclusters:\n  - { name: orders, region: eu-west-1, engine: mariadb, endpoint: ${spec.host}, port: ${spec.port}, masterSecretArn: "arn:aws:secretsmanager:eu-west-1:111122223333:secret:m", databases: [bench, ${Array.from({ length: 50 }, (_, i) => `db${i}`).join(', ')}] }\nusers:\n${users.join('\n')}\n`,
    );
    process.env.DBUSERS_DATABASE_URL = server.url;
    process.env.DBUSERS_STATE_DIR = join(dir, 'state');
    const applyStart = performance.now();
    const applied = reused ? 0 : await cli(['apply', '--yes', folder], quiet);
    if (applied !== 0) throw new Error(`bench: dbusers apply exited ${applied}`);
    const applySeconds = (performance.now() - applyStart) / 1000;
    const planned = await cli(['plan', folder], quiet);
    if (planned !== 0) throw new Error(`bench: dbusers plan after apply exited ${planned}, not 0 (in sync)`);

    const [baseline, ours] = await medians(
      [
        async () => {
          parse(readFileSync(file, 'utf8'));
          const other = await connect(spec);
          const [server] = await other.query(SERVER_QUERY);
          for (const sql of bulkQueries(server).sql) await other.query(sql);
          await other.close();
        },
        () => cli(['plan', folder], quiet),
      ],
      { warmup: 3, repeat: 11 },
    );
    const rows = [
      ['what', 'baseline', 'dbusers', 'ratio'],
      [
        `dbusers plan, ${size} declared / ${size} on the server (in sync)`,
        `${baseline.toFixed(0)} ms: parse the YAML, connect, the same bulk queries`,
        `${ours.toFixed(0)} ms`,
        `${(ours / baseline).toFixed(2)}×`,
      ],
      ...(reused
        ? []
        : [[`dbusers apply, ${size} new password users (setup)`, '', `${applySeconds.toFixed(0)} s`, '']]),
    ];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const [n, r] of rows.entries()) {
      console.log(`| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`);
      if (n === 0) console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    }
  } finally {
    await db.close();
    await server.stop();
    if (!kept) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
