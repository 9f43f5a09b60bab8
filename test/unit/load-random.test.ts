/**
 * Every input yields diagnostics, never a stack trace or a Node warning: the shipped examples with
 * random damage (characters deleted, YAML tokens and hostile values inserted, lines repeated or
 * dropped), each problem pointing into its file. Seeded: DBUSERS_LOAD_SEED and _STEPS reproduce a run.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { formatDiagnostic, loadDesired } from '../../reconciler/src/desired/load.js';
import { seeded } from '../support/random.js';

const EXAMPLES = ['users/payments-prod.yaml', 'users/shop-staging.yaml'].map(
  (f) => [f, readFileSync(f, 'utf8')] as const,
);
const TOKENS = [
  ...['{', '}', '[', ']', ':', ',', '"', "'", '&a', '*a', '!!binary', '!!timestamp', '!!float', '- ', '? '],
  ...[
    '\n',
    '  ',
    '\t',
    '\r',
    '#',
    '%',
    '@',
    '`',
    '\\',
    '|',
    '>',
    '<<: *a',
    '---\n',
    '...\n',
    '\u0000',
    '\uFEFF',
  ],
  ...['null', 'true', '~', '1e999', '-1', '0x10', '1.10', '99999999999999999999', 'é', 'ALL', 'SUPER'],
  ...['on: "*.*"', 'columns: []', 'roles: [x]', 'pattern: true', 'admin: true', 'withGrantOption: true'],
  ...['host: "a@b"', 'host: ""', 'name: ""', 'profile: admin', 'database: "a_b"'],
];

/** Keys YAML reads as something other than text, or as no plain name at all. */
const KEYS = [
  '1.10',
  '~',
  '!!binary aGk=',
  '!!timestamp 2001-12-14',
  'true',
  '0x1F',
  '[a]',
  '{ a: b }',
  '"" ',
];

/** One example file with one to four random changes. */
function damaged(text: string, random: () => number, one: <T>(xs: readonly T[]) => T): string {
  for (let n = 1 + Math.floor(random() * 4); n > 0; n--) {
    const at = Math.floor(random() * text.length);
    const how = random();
    if (how < 0.25) text = text.slice(0, at) + text.slice(at + 1 + Math.floor(random() * 8));
    else if (how < 0.55) text = text.slice(0, at) + one(TOKENS) + text.slice(at);
    else if (how < 0.7) {
      // A key, in a block or a flow map, made one YAML does not read as its text.
      const keys = [...text.matchAll(/(?<=^[ -]*|[{,] )[A-Za-z_]+(?=:)/gm)];
      const key = keys.length > 0 ? one(keys) : undefined;
      if (key) text = text.slice(0, key.index) + one(KEYS) + text.slice(key.index + key[0].length);
    } else {
      const lines = text.split('\n');
      const i = Math.floor(random() * lines.length);
      if (how < 0.85) lines.splice(Math.floor(random() * lines.length), 0, lines[i]!);
      else lines.splice(i, 1);
      text = lines.join('\n');
    }
  }
  return text;
}

it('reports every damaged file as diagnostics at a line and column of that file, never throwing or warning', async () => {
  const { random, one } = seeded(Number(process.env.DBUSERS_LOAD_SEED ?? 20261206));
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.message);
  process.on('warning', onWarning);
  try {
    for (let step = 0; step < Number(process.env.DBUSERS_LOAD_STEPS ?? 1000); step++) {
      const files = new Map(EXAMPLES.map(([name, text]) => [name, damaged(text, random, one)]));
      const context = `step ${step}:\n${[...files.values()].join('\n=====\n')}`;
      const { diagnostics } = loadDesired(files);
      for (const d of diagnostics) {
        const lines = (files.get(d.file) ?? '').split(/\r\n|\r|\n/).length;
        expect(d.line >= 1 && d.line <= lines && d.col >= 1, `${JSON.stringify(d)} ${context}`).toBe(true);
        expect(d.code, context).toMatch(/^[A-Z][A-Z_0-9]+$/);
        expect(formatDiagnostic(d, files.get(d.file))).toContain(`${d.file}:${d.line}:${d.col} ${d.code}`);
      }
      // Node reports a warning on the next turn of the event loop.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings, context).toEqual([]);
    }
  } finally {
    process.off('warning', onWarning);
  }
});
