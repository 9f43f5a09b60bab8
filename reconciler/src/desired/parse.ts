/**
 * The first stage of loading: a file's text → its YAML data, with every syntax and schema problem
 * reported. Schema errors in one user or role leave the rest of the file to the later checks.
 */
import Ajv2020, { type ErrorObject } from 'ajv/dist/2020.js';
import schema from '../../../schemas/users.schema.json' with { type: 'json' };
import { isScalar, type Node, visit } from 'yaml';
import type { Diagnostics } from './source-file.js';
import { describePath, SourceFile, type Path } from './source-file.js';
import type { FileYaml } from './yaml.js';

const ajv = new Ajv2020.default({ allErrors: true, strict: false, verbose: true });
const validateSchema = ajv.compile(schema as object);

/** Aliases one file may expand: a few dozen is plenty for real files; a billion-laughs file is refused. */
const MAX_ALIASES = 1000;

/** Parse and check one file against the schema; undefined when nothing in it can be checked further. */
export function parseFile(
  path: string,
  text: string,
  diags: Diagnostics,
): { file: SourceFile; data: FileYaml } | undefined {
  const file = new SourceFile(path, text);
  // Warnings too (an unresolved `!tag` is read as a plain string), and keys that are not text (a
  // list would become an "[object Object]"-like name, `1.10` the name "1.1"): an account file has no use for either.
  const problems = [...file.doc.errors, ...file.doc.warnings, ...oddKeys(file)];
  // The parser's stack runs out on a file nested thousands deep, once per level it unwinds: one
  // problem, said in the reader's terms.
  const deep = problems.find((e) => e.message.includes('Maximum call stack'));
  if (deep)
    deep.message = 'the YAML nests too deep to read (lists or maps inside each other thousands of times)';
  if (problems.length > 0) {
    for (const e of deep ? [deep] : problems) {
      diags.list.push({
        code: 'YAML_SYNTAX',
        file: path,
        ...syntaxPosition(file, e),
        message: e.message.split('\n')[0]!,
      });
    }
    return undefined;
  }
  let data: unknown;
  try {
    data = file.doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (error) {
    const message = `${(error as Error).message}: aliases expand to more than ${MAX_ALIASES} nodes`;
    diags.list.push({ code: 'YAML_SYNTAX', file: path, line: 1, col: 1, message });
    return undefined;
  }
  const valid = validateSchema(data) ? (data as FileYaml) : pruneInvalid(file, data, diags);
  return valid ? { file, data: valid } : undefined;
}

/**
 * Each map key that is not text, as a problem at that key: a list or a map, and a scalar the YAML
 * reads as something else (`1.10` is the number 1.1, `~` is null, `!!binary` is bytes), which would
 * become a name other than the one written.
 */
function oddKeys(file: SourceFile): { code: string; pos: [number, number]; message: string }[] {
  const found: { code: string; pos: [number, number]; message: string }[] = [];
  visit(file.doc, {
    Pair(_, pair) {
      const key = pair.key as Node | null;
      if (!key?.range || (isScalar(key) && typeof key.value === 'string')) return;
      const message = !isScalar(key)
        ? 'a key must be a plain name, not a list or a map'
        : key.value === null
          ? 'a key must be a name, not empty or null'
          : `a key must be text: ${key.source ?? ''} reads as ${readAs(key.value)}; write the name in quotes, with no tag`;
      found.push({ code: 'KEY', pos: [key.range[0], key.range[1]], message });
    },
  });
  return found;
}

/** What YAML made of a scalar that is not text, in the reader's terms. */
function readAs(value: unknown): string {
  if (value instanceof Uint8Array) return 'binary data';
  if (value instanceof Date) return `the date ${value.toISOString()}`;
  return `the ${typeof value} ${String(value)}`;
}

function instancePath(pointer: string): Path {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** A schema error in the reader's terms: what is wrong, the value received, what is allowed. */
function schemaMessage(e: ErrorObject, data: unknown): { path: Path; message: string; atKey: boolean } {
  const path = instancePath(e.instancePath);
  const where = describePath(path);
  // A key that fails `propertyNames` (a role named ""): at that key, not the whole map's value.
  if (e.propertyName !== undefined)
    return {
      path: [...path, e.propertyName],
      atKey: true,
      message: `${where}: invalid name ${JSON.stringify(e.propertyName)}: ${e.message ?? 'not allowed'}${hint(e)}`,
    };
  const got = JSON.stringify(
    path.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)?.[k], data),
  );
  switch (e.keyword) {
    case 'required':
      return {
        path,
        atKey: false,
        message: `${where}: missing required field "${e.params.missingProperty}"`,
      };
    case 'additionalProperties':
      return {
        path: [...path, e.params.additionalProperty as string],
        atKey: true,
        message: `${where}: unknown field "${e.params.additionalProperty}"; allowed: ${Object.keys(
          (e.parentSchema as { properties?: object })?.properties ?? {},
        ).join(', ')}`,
      };
    case 'enum':
      return {
        path,
        atKey: false,
        message: `${where}: got ${got}; allowed: ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
      };
    case 'pattern':
      return {
        path,
        atKey: false,
        message: `${where}: got ${got}, which does not match ${e.params.pattern}${hint(e)}`,
      };
    case 'propertyNames':
      return {
        path: [...path, e.params.propertyName as string],
        atKey: true,
        message: `${where}: invalid name "${e.params.propertyName}"`,
      };
    default:
      return { path, atKey: false, message: `${where}: ${e.message ?? 'is invalid'}, got ${got}` };
  }
}

/**
 * Of a choice of shapes (a role by name, or `{ name, admin }`), a value of one shape fails the others
 * too ("must be string"): the errors of its own shape, inside it or of its fields, say what is wrong.
 */
function explainedByItsShape(e: ErrorObject, errors: readonly ErrorObject[]): boolean {
  if (e.keyword !== 'type' && e.keyword !== 'anyOf') return false;
  return errors.some(
    (o) =>
      o.instancePath.startsWith(`${e.instancePath}/`) ||
      (o.instancePath === e.instancePath && o.keyword !== 'type' && o.keyword !== 'anyOf'),
  );
}

function hint(e: ErrorObject): string {
  const description = (e.parentSchema as { description?: string })?.description;
  return description ? ` (${description})` : '';
}

/** Top-level fields no other check reads, or reads with a default: an invalid one is left out. */
const DROPPABLE = new Set(['secretNameTemplate', 'onDigestMismatch', 'drift']);

/**
 * Report a file's schema errors, then keep what can still be checked: its invalid users as holes,
 * its invalid roles emptied, and unknown or invalid top-level fields that nothing else reads left
 * out. Undefined when what every other check stands on (account, alias, clusters, protected
 * accounts, privilege exceptions) is invalid.
 */
function pruneInvalid(file: SourceFile, data: unknown, diags: Diagnostics): FileYaml | undefined {
  const users = new Set<number>();
  const roles = new Set<string>();
  const dropped = new Set<string>();
  let whole = false;
  // One diagnostic per value (an empty name fails both its length and its pattern); each missing field is one.
  const reported = new Set<string>();
  const errors = validateSchema.errors ?? [];
  for (const e of errors) {
    // `propertyNames` repeats, without the reason, the error of the name it checked.
    if (e.keyword === 'if' || e.keyword === 'propertyNames') continue;
    if (explainedByItsShape(e, errors)) continue;
    const { path: p, message, atKey } = schemaMessage(e, data);
    const at = JSON.stringify([p, atKey]);
    if (e.keyword !== 'required' && reported.has(at)) continue;
    reported.add(at);
    diags.add(file, p, 'SCHEMA', message, atKey);
    const [top, next] = p;
    if (top === 'users' && typeof next === 'number') users.add(next);
    else if (top === 'roles' && typeof next === 'string') roles.add(next);
    else if (typeof top === 'string' && (DROPPABLE.has(top) || !(top in schema.properties))) dropped.add(top);
    else whole = true;
  }
  if (whole) return undefined;
  const d = Object.fromEntries(
    Object.entries(data as object).filter(([key]) => !dropped.has(key)),
  ) as FileYaml;
  return {
    ...d,
    // Holes, not removals: diagnostics of the users after one point at their own lines.
    users: d.users?.map((u, i) => (users.has(i) ? undefined : u)),
    roles:
      d.roles &&
      Object.fromEntries(Object.entries(d.roles).map(([name, r]) => [name, roles.has(name) ? {} : r])),
  };
}

/**
 * Where a syntax error starts: an unclosed quote is reported by the parser at the end of the file,
 * so point at the line that opened it.
 */
function syntaxPosition(
  file: SourceFile,
  e: { code: string; pos: [number, number]; message: string },
): { line: number; col: number } {
  const at = file.lines.linePos(e.pos[0]);
  if (e.code !== 'MISSING_CHAR' || !/quote/.test(e.message)) return at;
  const lines = file.text.slice(0, e.pos[0]).split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const quotes = [...lines[i]!.matchAll(/(?<!\\)"/g)];
    if (quotes.length % 2 === 1) return { line: i + 1, col: quotes[quotes.length - 1]!.index! + 1 };
  }
  return at;
}
