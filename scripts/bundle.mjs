// Bundle the Lambda handlers with esbuild: one minified ESM file each, for the Node.js 24 runtime.
// Usage: node scripts/bundle.mjs [outdir]   (prints each bundle's size)
import { build } from 'esbuild';
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The Lambda entry points. */
export const HANDLERS = {
  executor: 'reconciler/src/handlers/executor-lambda.ts',
  reconciler: 'reconciler/src/handlers/central-lambda.ts',
};

/** Bundle one entry to `outfile`; returns its size in bytes. */
export async function bundle(entry, outfile) {
  await build({
    entryPoints: [join(root, entry)],
    outfile,
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node24',
    format: 'esm',
    // mysql2 and the AWS SDK still call require() for Node built-ins inside an ES module bundle.
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
    // We only ever decode UTF-8: keep iconv-lite's code tables out of the bundle.
    alias: { 'iconv-lite': join(root, 'scripts/iconv-utf8-only.cjs') },
    legalComments: 'none',
    logLevel: 'warning',
  });
  return statSync(outfile).size;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const outdir = process.argv[2] ?? 'dist';
  for (const [name, entry] of Object.entries(HANDLERS)) {
    const outfile = join(outdir, name, 'index.mjs');
    console.log(`${name}: ${outfile} ${((await bundle(entry, outfile)) / 1024).toFixed(0)} KiB`);
  }
}
