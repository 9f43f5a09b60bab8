/** Grant sets: a stable key per grant, sorting, and the delta between two sets. */
import type { Grant, GrantTarget, ObjectRef } from './types.js';

/** One string that identifies a grant; equal keys mean the same privilege on the same object. */
export function grantKey(g: Grant): string {
  switch (g.level) {
    case 'global':
      return `global\0\0${g.privilege}`;
    case 'database':
      return `database\0${g.pattern ? '\u0001' + g.pattern : g.database}\0${g.privilege}`;
    case 'table':
      return `table\0${g.database}\0${g.table}\0${g.privilege}`;
    case 'column':
      return `column\0${g.database}\0${g.table}\0${g.column}\0${g.privilege}`;
    case 'routine':
      return `routine\0${g.database}\0${g.routineType}\0${routineName(g.routine)}\0${g.privilege}`;
  }
}

/**
 * A routine name as the server compares it: in any case. A grant on `PROCEDURE db.P` is a grant on
 * `db.p`, and the server keeps the spelling it was first granted with.
 */
export function routineName(name: string): string {
  return name.toLowerCase();
}

/** The object part of a grant, for grouping privileges into one statement. */
export function objectKey(g: Grant): string {
  const key = grantKey(g);
  return key.slice(0, key.lastIndexOf('\0'));
}

/** Sorted copy without duplicates, so plans and golden files are stable. */
export function normaliseGrants(grants: readonly Grant[]): Grant[] {
  const byKey = new Map<string, Grant>();
  for (const g of grants) byKey.set(grantKey(g), g);
  return [...byKey.keys()].sort().map((k) => byKey.get(k)!);
}

/** Two grants name the same privilege on the same object (compared field by field: no key strings). */
function sameGrant(a: Grant, b: Grant): boolean {
  if (a.privilege !== b.privilege) return false;
  switch (a.level) {
    case 'global':
      return b.level === 'global';
    case 'database':
      return b.level === 'database' && a.database === b.database && a.pattern === b.pattern;
    case 'table':
      return b.level === 'table' && a.table === b.table && a.database === b.database;
    case 'column':
      return (
        b.level === 'column' && a.column === b.column && a.table === b.table && a.database === b.database
      );
    case 'routine':
      return (
        b.level === 'routine' &&
        routineName(a.routine) === routineName(b.routine) &&
        a.database === b.database &&
        a.routineType === b.routineType
      );
  }
}

/** True when both sets hold the same grants: the common case, checked without allocating. */
export function sameGrants(desired: readonly Grant[], actual: readonly Grant[]): boolean {
  if (desired.length !== actual.length) return false;
  next: for (const g of desired) {
    for (const h of actual) if (sameGrant(g, h)) continue next;
    return false;
  }
  return true;
}

/** A difference with nothing in it, shared: most accounts match their declaration. */
const NO_DIFFERENCE = Object.freeze({
  add: Object.freeze([]) as readonly never[],
  remove: Object.freeze([]) as readonly never[],
});

/** What to add and what to remove to turn `actual` into `desired` (planning runs this per account). */
export function diffGrants(
  desired: readonly Grant[],
  actual: readonly Grant[],
): { readonly add: readonly Grant[]; readonly remove: readonly Grant[] } {
  if (desired.length <= 16 && sameGrants(desired, actual)) return NO_DIFFERENCE;
  const haveKeys = actual.map(grantKey);
  const have = new Set(haveKeys);
  const want = new Set<string>();
  const add: Grant[] = [];
  for (const g of desired) {
    const key = grantKey(g);
    want.add(key);
    if (!have.has(key)) add.push(g);
  }
  const remove = actual.filter((_, i) => !want.has(haveKeys[i]!));
  return {
    add: add.length > 0 ? normaliseGrants(add) : add,
    remove: remove.length > 0 ? normaliseGrants(remove) : remove,
  };
}

/** Sorted set difference of names. */
export function diffNames(
  desired: readonly string[],
  actual: readonly string[],
): { readonly add: readonly string[]; readonly remove: readonly string[] } {
  if (desired.length === 0 && actual.length === 0) return NO_DIFFERENCE;
  return {
    add: [...new Set(desired)].filter((r) => !actual.includes(r)).sort(),
    remove: [...new Set(actual)].filter((r) => !desired.includes(r)).sort(),
  };
}

/** How a grant reads to a person: `SELECT on audit.*`. Names are shown as written, not escaped. */
export function describeGrant(g: Grant): string {
  return `${g.privilege} on ${describeTarget(g)}`;
}

/** The object of a grant as a person reads it. */
export function describeTarget(g: Grant): string {
  switch (g.level) {
    case 'global':
      return '*.*';
    case 'database':
      return g.pattern ? `${g.pattern}.* (wildcard pattern)` : `${g.database}.*`;
    case 'table':
      return `${g.database}.${g.table}`;
    case 'column':
      return `${g.database}.${g.table}(${g.column})`;
    case 'routine':
      return `${g.routineType} ${g.database}.${g.routine}`;
  }
}

/**
 * A grant or object with its database, table, routine and pattern in lower case, as a server with
 * lower_case_table_names = 1 keeps them in its grant tables; column names stay as written.
 */
export function lowerCaseNames<T extends Grant | ObjectRef>(x: T): T {
  const lower: Record<string, unknown> = { ...x };
  for (const name of LOWER_CASE_NAMES)
    if (typeof lower[name] === 'string') lower[name] = serverLowerCase(lower[name] as string);
  return lower as T;
}

/**
 * Lower case as the server makes it: character by character, one character for one (`İ` is `i`, a
 * final `Σ` is `σ`), where String.toLowerCase maps some to two and looks at their neighbours.
 */
function serverLowerCase(name: string): string {
  let lower = '';
  for (const c of name) lower += [...c.toLowerCase()][0];
  return lower;
}

const LOWER_CASE_NAMES = ['database', 'table', 'routine', 'pattern'] as const;

/** The identifiers a grant names, as the server stores them: database (or pattern), table, column, routine. */
export function grantNames(g: GrantTarget): string[] {
  switch (g.level) {
    case 'global':
      return [];
    case 'database':
      return g.pattern === undefined ? [g.database] : [g.database, g.pattern];
    case 'table':
      return [g.database, g.table];
    case 'column':
      return [g.database, g.table, g.column];
    case 'routine':
      return [g.database, g.routine];
  }
}

/** The table, column or routine a grant names, if any. */
export function objectOf(g: Grant): ObjectRef | undefined {
  if (g.level === 'table') return { database: g.database, table: g.table };
  if (g.level === 'column') return { database: g.database, table: g.table, column: g.column };
  if (g.level === 'routine') return { database: g.database, routine: g.routine, routineType: g.routineType };
  return undefined;
}

/** How a person names a table, column or routine: `db.t`, `db.t(c)`, `PROCEDURE db.p`. */
export function describeObject(o: ObjectRef): string {
  if ('routine' in o) return `${o.routineType} ${o.database}.${o.routine}`;
  return o.column === undefined ? `${o.database}.${o.table}` : `${o.database}.${o.table}(${o.column})`;
}
