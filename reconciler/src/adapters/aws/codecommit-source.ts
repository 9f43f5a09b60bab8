/**
 * CodeCommit behind SourceRepo: the account files at a commit (GetFolder, walked down from `users`,
 * then GetBlob per file) and the files a push changed (GetDifferences, every page).
 */
import {
  CodeCommitClient,
  GetBlobCommand,
  GetDifferencesCommand,
  GetFolderCommand,
} from '@aws-sdk/client-codecommit';
import type { SourceRepo, UnreadableFile } from '../../ports/index.js';
import { RETRY_CONFIG } from './clients.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const isYaml = (path: string) => /\.ya?ml$/.test(path);

/** A CodeCommit repository's `users/` folder. */
export class CodeCommitSource implements SourceRepo {
  private readonly client: CodeCommitClient;

  constructor(
    private readonly repositoryName: string,
    client?: CodeCommitClient,
    readonly folder = 'users',
  ) {
    this.client = client ?? new CodeCommitClient(RETRY_CONFIG);
  }

  async readTree(revision = 'main'): Promise<Map<string, string | UnreadableFile>> {
    const blobs: { path: string; blobId: string }[] = [];
    const walk = async (folderPath: string): Promise<void> => {
      const out = await this.client.send(
        new GetFolderCommand({ repositoryName: this.repositoryName, commitSpecifier: revision, folderPath }),
      );
      for (const f of out.files ?? [])
        if (f.absolutePath && f.blobId && isYaml(f.absolutePath))
          blobs.push({ path: f.absolutePath, blobId: f.blobId });
      for (const sub of out.subFolders ?? []) if (sub.absolutePath) await walk(sub.absolutePath);
    };
    await walk(this.folder);
    const files = new Map<string, string | UnreadableFile>();
    for (const { path, blobId } of blobs.sort((a, b) => (a.path < b.path ? -1 : 1))) {
      const { content } = await this.client.send(
        new GetBlobCommand({ repositoryName: this.repositoryName, blobId }),
      );
      try {
        files.set(path, utf8.decode(content ?? new Uint8Array()));
      } catch {
        files.set(path, { code: 'ENCODING', reason: 'the file is not UTF-8 text; save it as UTF-8' });
      }
    }
    return files;
  }

  async changedFiles(from: string, to: string): Promise<string[]> {
    const paths = new Set<string>();
    let NextToken: string | undefined;
    do {
      const page = await this.client.send(
        new GetDifferencesCommand({
          repositoryName: this.repositoryName,
          beforeCommitSpecifier: from,
          afterCommitSpecifier: to,
          beforePath: this.folder,
          afterPath: this.folder,
          NextToken,
        }),
      );
      for (const d of page.differences ?? [])
        for (const p of [d.beforeBlob?.path, d.afterBlob?.path]) if (p && isYaml(p)) paths.add(p);
      NextToken = page.NextToken;
    } while (NextToken);
    return [...paths].sort();
  }
}
