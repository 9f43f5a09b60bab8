/** GRANT / REVOKE text shared by every engine: the grammar is the same, only account names differ. */
import { objectKey } from '../model/grants.js';
import type { Grant } from '../model/types.js';
import { quoteDatabasePattern, quoteIdent } from '../sql/escape.js';

/** `ON …` clause of a grant. Only database-level names are patterns and get wildcard escaping. */
export function renderOn(g: Grant): string {
  switch (g.level) {
    case 'global':
      return '*.*';
    case 'database':
      return `${g.pattern !== undefined ? quoteIdent(g.pattern) : quoteDatabasePattern(g.database)}.*`;
    case 'table':
    case 'column':
      return `${quoteIdent(g.database)}.${quoteIdent(g.table)}`;
    case 'routine':
      return `${g.routineType} ${quoteIdent(g.database)}.${quoteIdent(g.routine)}`;
  }
}

/** Group grants by object so each object takes one statement. */
function byObject(grants: readonly Grant[]): Grant[][] {
  const groups = new Map<string, Grant[]>();
  for (const g of grants) {
    const key = objectKey(g);
    groups.set(key, [...(groups.get(key) ?? []), g]);
  }
  return [...groups.values()];
}

function privilegeList(group: Grant[]): string {
  return group
    .map((g) => (g.level === 'column' ? `${g.privilege} (${quoteIdent(g.column)})` : g.privilege))
    .join(', ');
}

/** GRANT statements for `grants` to `grantee` (an already quoted account or role). */
export function renderGrants(grants: readonly Grant[], grantee: string): string[] {
  return byObject(grants).map((group) => {
    const plain = group.filter((g) => g.privilege !== 'GRANT OPTION');
    const withGrant = plain.length < group.length ? ' WITH GRANT OPTION' : '';
    const privileges = plain.length > 0 ? privilegeList(plain) : 'USAGE';
    return `GRANT ${privileges} ON ${renderOn(group[0]!)} TO ${grantee}${withGrant}`;
  });
}

/** REVOKE statements for `grants` from `grantee`; GRANT OPTION is revoked like any privilege. */
export function renderRevokes(grants: readonly Grant[], grantee: string): string[] {
  return byObject(grants).map(
    (group) => `REVOKE ${privilegeList(group)} ON ${renderOn(group[0]!)} FROM ${grantee}`,
  );
}
