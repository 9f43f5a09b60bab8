/** A YAML file and the diagnostics that point into it: `file:line:col CODE message`. */
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { visible, type Diagnostic, type DiagnosticCode } from '../model/types.js';
import type { UnreadableFile } from '../ports/index.js';

/** A path into the YAML document: keys and indexes. */
export type Path = (string | number)[];

/** One parsed file and a way to point at its nodes. */
export class SourceFile {
  readonly lines = new LineCounter();
  readonly doc: Document;
  constructor(
    readonly path: string,
    readonly text: string,
  ) {
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true });
  }

  /** Line and column of the node at `path` (or of its nearest existing parent); `key` points at the key. */
  position(path: Path, key = false): { line: number; col: number } {
    for (let depth = path.length; depth >= 0; depth--) {
      const sub = path.slice(0, depth);
      const parent =
        sub.length === 0 ? this.doc.contents : (this.doc.getIn(sub.slice(0, -1), true) as Node | undefined);
      const last = sub[sub.length - 1];
      if (key && depth === path.length && isMap(parent) && last !== undefined) {
        const pair = parent.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === last);
        const range = (pair?.key as Node | undefined)?.range;
        if (range) return this.lines.linePos(range[0]);
      }
      const node = (sub.length === 0 ? this.doc.contents : this.doc.getIn(sub, true)) as Node | undefined;
      if (node?.range) return this.lines.linePos(node.range[0]);
    }
    return { line: 1, col: 1 };
  }
}

/** Collects diagnostics; nothing throws while files are read. */
export class Diagnostics {
  readonly list: Diagnostic[] = [];
  add(file: SourceFile, path: Path, code: DiagnosticCode, message: string, atKey = false): void {
    const { line, col } = file.position(path, atKey);
    this.list.push({ code, file: file.path, line, col, message });
  }
}

/** Where a path points, as a person reads it: `users[1].grants[0].on`. */
export function describePath(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('') || '(file)';
}

/** `file:line:col CODE message`, with the offending line and a caret under the column. */
export function formatDiagnostic(d: Diagnostic, text?: string | UnreadableFile): string {
  const head = visible(`${d.file}:${d.line}:${d.col} ${d.code} ${d.message}`);
  const line = typeof text === 'string' ? text.split('\n')[d.line - 1] : undefined;
  if (line === undefined) return head;
  return `${head}\n  ${visible(line.replace(/\r$/, ''))}\n  ${' '.repeat(Math.max(0, d.col - 1))}^`;
}
