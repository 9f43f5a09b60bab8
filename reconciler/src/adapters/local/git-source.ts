/**
 * A local git repository as the source: the account files at a commit, and which of them changed
 * between two commits. Stands in for CodeCommit when replaying events on a laptop, and for tests.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { SourceRepo, UnreadableFile } from '../../ports/index.js';

const git = promisify(execFile);

/** Raised when git cannot answer (not a repository, an unknown commit). */
export class GitSourceError extends Error {
  override name = 'GitSourceError';
}

/** `users/*.yaml` of a git repository, read at a commit (default HEAD). */
export class GitSource implements SourceRepo {
  constructor(readonly repo: string) {}

  private async run(args: string[]): Promise<string> {
    try {
      return (await git('git', ['-C', this.repo, ...args], { maxBuffer: 64 * 1024 * 1024 })).stdout;
    } catch (cause) {
      throw new GitSourceError(
        `git ${args.join(' ')} in ${this.repo}: ${(cause as { stderr?: string }).stderr?.trim() || (cause as Error).message}`,
        { cause },
      );
    }
  }

  async readTree(revision = 'HEAD'): Promise<Map<string, string | UnreadableFile>> {
    const names = (await this.run(['ls-tree', '-r', '-z', '--name-only', revision, '--', 'users/']))
      .split('\0')
      .filter((n) => /\.ya?ml$/.test(n));
    const files = new Map<string, string | UnreadableFile>();
    for (const name of names.sort()) files.set(name, await this.run(['show', `${revision}:${name}`]));
    return files;
  }

  async mergeBase(a: string, b: string): Promise<string> {
    return (await this.run(['merge-base', a, b])).trim();
  }

  /** The account files added, changed or deleted between two commits. */
  async changedFiles(from: string, to: string): Promise<string[]> {
    const out = await this.run(['diff', '--name-only', '-z', from, to, '--', 'users/']);
    return out.split('\0').filter((n) => /\.ya?ml$/.test(n));
  }
}
