/** The local source repository: the users/ folder on disk. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { SourceRepo } from '../../ports/index.js';

/** Reads every *.yaml / *.yml below a folder; paths are shown relative to the working directory. */
export class FolderSource implements SourceRepo {
  constructor(readonly dir: string) {}

  async readTree(): Promise<Map<string, string>> {
    const files = new Map<string, string>();
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir).sort()) {
        const p = join(dir, entry);
        if (statSync(p).isDirectory()) walk(p);
        else if (/\.ya?ml$/.test(entry)) files.set(relative(process.cwd(), p) || p, readFileSync(p, 'utf8'));
      }
    };
    walk(this.dir);
    return files;
  }
}
