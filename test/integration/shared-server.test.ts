/**
 * Several clusters on one server (DBUSERS_DATABASE_URL points every cluster at it): each cluster's
 * plan owns only what it created, so applying all the shipped examples deletes nothing of another.
 */
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../reconciler/src/adapters/mysql/database.js';
import { cli, useServer } from '../support/cli.js';
import { startTestServer, tempDir, type TestServer } from '../support/server.js';

let server: TestServer;
let admin: Database;
let work: string;

beforeAll(async () => {
  server = await startTestServer();
  admin = await server.admin();
  work = tempDir();
  cpSync('users', join(work, 'users'), { recursive: true });
  useServer(server.url, work);
});

afterAll(async () => {
  await admin?.close();
  await server?.stop();
});

describe('every shipped example on one server', () => {
  it("applies, then plans no changes, and never deletes another cluster's accounts", async () => {
    const applied = await cli('apply', join(work, 'users'), '--yes', '--create-missing');
    expect(applied.err).not.toMatch(/failed/);
    expect(applied.code).toBe(0);
    const plan = await cli('plan', join(work, 'users'));
    expect(plan.out).not.toContain('- delete');
    expect(plan.code).toBe(0);
    const rows = await admin.query<{ owner: string; n: number }>(
      'SELECT owner, COUNT(*) AS n FROM _dbusers.managed_accounts GROUP BY owner ORDER BY owner',
    );
    expect(rows.map((r) => [r.owner, Number(r.n)])).toEqual([
      ['111122223333/orders', 3],
      ['444455556666/catalog', 6],
    ]);
  });
});
