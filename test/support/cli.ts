/** Run the dbusers CLI in-process, capturing what it prints. */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../reconciler/src/cli/main.js';
import { tempDir } from './server.js';

export async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

/** A temp folder holding a copy of the example `users/payments-prod.yaml` in `users/`; its path. */
export function exampleWorkspace(): string {
  const work = tempDir();
  mkdirSync(join(work, 'users'));
  copyFileSync('users/payments-prod.yaml', join(work, 'users', 'payments-prod.yaml'));
  return work;
}

/** Point the CLI's local mode at `url`, keeping its state (secrets) in `work/state`. */
export function useServer(url: string, work: string): void {
  process.env.DBUSERS_DATABASE_URL = url;
  process.env.DBUSERS_STATE_DIR = join(work, 'state');
}
