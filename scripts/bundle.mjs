// Bundle the Lambda handlers with esbuild: one minified ESM file each, for the Node.js 20 runtime.
// Prints the size of each bundle. Usage: node scripts/bundle.mjs [outdir]
import { build } from 'esbuild';
import { statSync } from 'node:fs';
import { join } from 'node:path';

const outdir = process.argv[2] ?? 'dist';
const handlers = { executor: 'reconciler/src/handlers/executor.ts' };
for (const [name, entry] of Object.entries(handlers)) {
  const outfile = join(outdir, name, 'index.mjs');
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    minify: true,
    sourcemap: false,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    // mysql2 and the AWS SDK still call require() for Node built-ins inside an ES module bundle.
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    legalComments: 'none',
  });
  console.log(`${name}: ${outfile} ${(statSync(outfile).size / 1024).toFixed(0)} KiB`);
}
