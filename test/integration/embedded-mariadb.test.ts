import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { startEmbeddedMariadb } from '../../reconciler/src/adapters/local/embedded-mariadb.js';
import { connect, parseDatabaseUrl } from '../../reconciler/src/adapters/mysql/database.js';
import { tempDir } from '../support/server.js';

it('initialises and runs in its own temp folder, never the shared one (parallel bootstraps in /tmp collide)', async () => {
  const dir = tempDir('dbusers-embedded-');
  const shared = process.env.TMPDIR;
  // A shared temp folder that does not exist: any use of it fails the bootstrap or the server.
  process.env.TMPDIR = join(dir, 'no-such-folder');
  try {
    const server = await startEmbeddedMariadb(join(dir, 'server'));
    try {
      const db = await connect(parseDatabaseUrl(server.url));
      const [row] = await db.query<{ tmpdir: string }>('SELECT @@tmpdir AS tmpdir');
      // A temporary table lives in that folder.
      await db.query('CREATE DATABASE scratch');
      await db.query('CREATE TEMPORARY TABLE scratch.big (t TEXT) ENGINE=Aria');
      await db.close();
      expect(row?.tmpdir).toBe(join(dir, 'server', 'tmp'));
    } finally {
      await server.stop();
    }
  } finally {
    if (shared === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = shared;
    rmSync(dir, { recursive: true, force: true });
  }
});
