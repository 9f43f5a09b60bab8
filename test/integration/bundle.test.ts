/**
 * The Lambda bundle as it ships: built by scripts/bundle.mjs, imported, and its mysql2 (with the
 * UTF-8-only iconv stand-in) talking to a real MariaDB, unicode names included.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, tempDir, type TestServer } from '../support/server.js';
// @ts-expect-error: a plain ES module script without types
import { bundle, HANDLERS } from '../../scripts/bundle.mjs';

let server: TestServer;
const out = tempDir('dbusers-bundle-');

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.stop();
});

describe('the executor bundle', () => {
  it('imports, and validates events with the schema it carries', async () => {
    const file = join(out, 'executor', 'index.mjs');
    const size = (await bundle(HANDLERS.executor, file)) as number;
    expect(size).toBeGreaterThan(100_000);
    const mod = (await import(pathToFileURL(file).href)) as { handler: (e: unknown) => Promise<unknown> };
    await expect(mod.handler({ username: 'x"; DROP', action: 'create_user' })).rejects.toThrow(
      /invalid event/,
    );
  });

  it('decodes unicode through the bundled mysql2 without iconv-lite', async () => {
    const file = join(out, 'database', 'index.mjs');
    await bundle('reconciler/src/adapters/mysql/database.ts', file);
    const { connect } = (await import(
      pathToFileURL(file).href
    )) as typeof import('../../reconciler/src/adapters/mysql/database.js');
    const db = await connect(server.spec);
    await db.query("CREATE USER IF NOT EXISTS 'ünïcødé-名前'@'%' IDENTIFIED BY 'x'");
    const rows = await db.query<{ User: string; Priv: unknown }>(
      "SELECT User, Priv FROM mysql.global_priv WHERE User LIKE 'ü%'",
    );
    await db.close();
    expect(rows.map((r) => r.User)).toEqual(['ünïcødé-名前']);
  });
});

describe('the iconv stand-in', () => {
  it('round-trips CESU-8 for any string, surrogate pairs included, and refuses other character sets', async () => {
    const fc = (await import('fast-check')).default;
    // @ts-expect-error: a plain CommonJS script without types
    const stub = (await import('../../scripts/iconv-utf8-only.cjs')).default as {
      _decodeCesu8(b: Buffer): string;
      _encodeCesu8(s: string): Buffer;
      getDecoder(e: string): unknown;
    };
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => stub._decodeCesu8(stub._encodeCesu8(s)) === s),
    );
    expect(stub._encodeCesu8('a€😀').toString('hex')).toBe('61e282aceda0bdedb880');
    expect(() => stub.getDecoder('latin2')).toThrow(/only UTF-8 and CESU-8/);
  });
});
