/** The local source repository: the users/ folder on disk (or one file of it). */
import { lstatSync, readdirSync, readFileSync, realpathSync, type Stats, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import type { SourceRepo, UnreadableFile } from '../../ports/index.js';

/** Larger than any account file: a file this size is a mistake, not a declaration. */
const MAX_FILE_BYTES = 5 * 1024 * 1024;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads every *.yaml / *.yml below a folder (or the one file given); paths are shown relative to the
 * working directory. A file that cannot be read as UTF-8 text, a dangling symlink or a symlink loop
 * becomes an UnreadableFile, reported like any problem; other files are listed in `ignored`.
 */
export class FolderSource implements SourceRepo {
  /** Files below the folder that are not YAML, from the last read: a `.yalm` typo is named, not skipped silently. */
  ignored: string[] = [];

  /** The folder as diagnostics name it: relative to the working directory. */
  readonly folder: string;

  constructor(readonly dir: string) {
    this.folder = shown(dir);
  }

  async readTree(): Promise<Map<string, string | UnreadableFile>> {
    const files = new Map<string, string | UnreadableFile>();
    const seen = new Set<string>();
    this.ignored = [];
    const visit = (p: string, named: boolean) => {
      let stat: Stats;
      try {
        stat = statSync(p);
      } catch (error) {
        const reason = whyUnreadable(p, (error as NodeJS.ErrnoException).code);
        if (/\.ya?ml$/.test(p) || named) files.set(shown(p), { code: 'FILE', reason });
        return;
      }
      if (stat.isDirectory()) {
        const real = realpathSync(p);
        if (seen.has(real)) return; // a symlinked folder met again: read once
        seen.add(real);
        for (const entry of readdirSync(p).sort()) visit(join(p, entry), false);
      } else if (!/\.ya?ml$/.test(p) && !named) this.ignored.push(shown(p));
      else files.set(shown(p), read(p, stat.size));
    };
    visit(this.dir, true);
    return files;
  }
}

/** Why a path could not be followed, and what to do about it. */
function whyUnreadable(path: string, code: string | undefined): string {
  if (code === 'ELOOP') return 'a symlink loop; fix or remove it';
  if (code !== 'ENOENT') return `unreadable (${code}); fix or remove it`;
  let link = false;
  try {
    link = lstatSync(path).isSymbolicLink();
  } catch {
    // Nothing at all there.
  }
  return link
    ? 'a symlink to nothing (dangling); fix or remove it'
    : 'no such file or folder; check the path';
}

/** A path relative to the working directory, as every output names files. */
function shown(path: string): string {
  return relative(process.cwd(), path) || path;
}

function read(path: string, size: number): string | UnreadableFile {
  if (size > MAX_FILE_BYTES)
    return {
      code: 'FILE',
      reason: `${basename(path)} is ${size} bytes; an account file is at most ${MAX_FILE_BYTES}`,
    };
  try {
    return utf8.decode(readFileSync(path));
  } catch (error) {
    if (error instanceof TypeError)
      return { code: 'ENCODING', reason: 'the file is not UTF-8 text; save it as UTF-8' };
    return { code: 'FILE', reason: `unreadable: ${(error as Error).message}` };
  }
}
