/**
 * users/*.yaml → the desired state of every cluster, or every problem in every file at once, each
 * pointing at its YAML node. Nothing downstream runs when any diagnostic is returned. The stages:
 * parse.ts (syntax, schema), accounts.ts and grants.ts (one file's clusters, users, roles, grants,
 * engine checks), then the cross-file checks here.
 */
import { basename, dirname } from 'node:path';
import type { DesiredTarget, Diagnostic } from '../model/types.js';
import type { UnreadableFile } from '../ports/index.js';
import { readFile } from './accounts.js';
import { parseFile } from './parse.js';
import { Diagnostics, type SourceFile } from './source-file.js';
import type { FileYaml } from './yaml.js';

export { DEFAULT_SECRET_TEMPLATE, secretNameFor } from './accounts.js';
export { parseOn } from './grants.js';
export { formatDiagnostic } from './source-file.js';

/** The result of loading: targets when there is nothing to report, diagnostics otherwise. */
export interface LoadResult {
  targets: DesiredTarget[];
  diagnostics: Diagnostic[];
}

/**
 * Load and check every file; files are taken in name order so diagnostics are stable. A file the
 * source could not read as text is reported at 1:1; every file that parses, even with schema errors
 * in some users or roles, goes on to the cross-file checks. `folder` names where the files were
 * looked for, when there are none.
 */
export function loadDesired(
  files: ReadonlyMap<string, string | UnreadableFile>,
  folder = 'users',
): LoadResult {
  const diags = new Diagnostics();
  const parsed: { file: SourceFile; data: FileYaml }[] = [];
  if (files.size === 0) {
    const message = 'no account file (<alias>.yaml) was found: nothing to check or apply';
    diags.list.push({ code: 'FILE', file: `${folder}/`, line: 1, col: 1, message });
  }
  for (const path of [...files.keys()].sort()) {
    const content = files.get(path)!;
    if (typeof content !== 'string')
      diags.list.push({ code: content.code, file: path, line: 1, col: 1, message: content.reason });
    else {
      const file = parseFile(path, content, diags);
      if (file) parsed.push(file);
    }
  }
  const targets: DesiredTarget[] = [];
  const accountsSeen = new Map<string, string>();
  for (const { file, data } of parsed) {
    checkFileIdentity(file, data, accountsSeen, diags);
    targets.push(...readFile(file, data, diags));
  }
  const diagnostics = diags.list.sort((a, b) =>
    a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.col - b.col,
  );
  return { targets: diagnostics.length > 0 ? [] : targets, diagnostics };
}

/** The account id must agree with the file name (alias or account) and any account-id folder. */
function checkFileIdentity(
  file: SourceFile,
  data: FileYaml,
  seen: Map<string, string>,
  diags: Diagnostics,
): void {
  const stem = basename(file.path).replace(/\.ya?ml$/, '');
  if (stem !== data.alias && stem !== data.account) {
    diags.add(
      file,
      ['alias'],
      'ACCOUNT_MISMATCH',
      `alias ${JSON.stringify(data.alias)} disagrees with the file name ${basename(file.path)}; name the file ${data.alias}.yaml`,
    );
  }
  const folder = basename(dirname(file.path));
  if (/^[0-9]{12}$/.test(folder) && folder !== data.account) {
    diags.add(
      file,
      ['account'],
      'ACCOUNT_MISMATCH',
      `account ${data.account} disagrees with its folder ${folder}`,
    );
  }
  const other = seen.get(data.account);
  if (other)
    diags.add(
      file,
      ['account'],
      'ACCOUNT_MISMATCH',
      `account ${data.account} is already declared in ${other}; keep one file per account`,
    );
  else seen.set(data.account, file.path);
}
