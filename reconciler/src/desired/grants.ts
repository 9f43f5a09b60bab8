/** A YAML grant → canonical grants: its object, its privileges for the engine, the privilege policy. */
import type { Dialect } from '../dialect/index.js';
import { PRIVILEGE_ALIASES, profilePrivileges } from '../dialect/privileges.js';
import {
  identifierProblem,
  literalDatabaseProblem,
  normaliseHost,
  routineGrantProblem,
} from '../model/names.js';
import { grantNames } from '../model/grants.js';
import { refusedGrants, type PrivilegeException } from '../model/privilege-policy.js';
import type { AccountId, Engine, Grant, GrantTarget } from '../model/types.js';
import { describePath, type Diagnostics, type Path, type SourceFile } from './source-file.js';
import type { FileYaml, GrantYaml } from './yaml.js';
import { decodeDatabasePattern } from '../sql/escape.js';

/**
 * Split `a.b`, `` `a.b`.c ``, `PROCEDURE db.p` into a grant target, or say why not. A `*` is a
 * wildcard only unquoted: `` `*` `` names a database, table or routine called `*`.
 */
export function parseOn(on: string): GrantTarget | string {
  const m = /^(PROCEDURE|FUNCTION)\s+(.*)$/i.exec(on.trim());
  const body = m ? m[2]! : on.trim();
  const parts: string[] = [];
  const wildcard: boolean[] = [];
  let current = '';
  let quoted = false;
  let wasQuoted = false;
  const endPart = () => {
    const part = wasQuoted ? current : current.trim();
    parts.push(part);
    wildcard.push(part === '*' && !wasQuoted);
  };
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (quoted) {
      if (c === '`' && body[i + 1] === '`') {
        current += '`';
        i++;
      } else if (c === '`') quoted = false;
      else current += c;
    } else if (c === '`') {
      quoted = wasQuoted = true;
    } else if (c === '.') {
      endPart();
      current = '';
      wasQuoted = false;
    } else current += c;
  }
  if (quoted) return 'an unclosed backtick';
  endPart();
  if (parts.length !== 2 || parts.some((p) => p === ''))
    return 'expected database.object (quote names with dots in backticks)';
  const [db, object] = parts as [string, string];
  const [anyDb, anyObject] = wildcard as [boolean, boolean];
  if (m) {
    if (anyDb || anyObject) return `${m[1]!.toUpperCase()} needs a database and a routine name`;
    return {
      level: 'routine',
      database: db,
      routine: object,
      routineType: m[1]!.toUpperCase() as 'PROCEDURE' | 'FUNCTION',
    };
  }
  if (anyDb) return anyObject ? { level: 'global' } : '*.table is not a grant target';
  if (anyObject) return { level: 'database', database: db };
  return { level: 'table', database: db, table: object };
}

/** What readGrant needs besides the grant. */
export interface GrantContext {
  file: SourceFile;
  diags: Diagnostics;
  dialect: Dialect;
  databases?: readonly string[];
  cluster?: string;
  /** Checked against the privilege policy, with the file's exceptions. */
  policy?: { account: AccountId; engine: Engine; exceptions: readonly PrivilegeException[] };
}

/**
 * Expand one YAML grant to canonical grants, reporting what is wrong with it. `withGrantOption` is
 * GRANT OPTION on the grant's object; on columns the server keeps it on their table.
 */
export function readGrant(g: GrantYaml, path: Path, ctx: GrantContext): Grant[] {
  const target = readGrantTarget(g, path, ctx);
  if (!target) return [];
  const level = g.columns ? 'column' : target.level;
  const privileges = readPrivileges(g, path, level, ctx);
  const targets: GrantTarget[] = g.columns
    ? g.columns.map((column) => ({
        ...(target as { database: string; table: string }),
        level: 'column',
        column,
      }))
    : [target];
  const grants = targets.flatMap((t) => privileges.map((privilege) => ({ ...t, privilege }) as Grant));
  if (g.withGrantOption) grants.push({ ...target, privilege: 'GRANT OPTION' } as Grant);
  if (ctx.policy) {
    const { account, engine, exceptions } = ctx.policy;
    const how =
      'pattern' in target && target.pattern !== undefined ? 'pattern: true and a reason' : 'a reason';
    for (const refused of new Set(refusedGrants(account, grants, engine, exceptions))) {
      ctx.diags.add(
        ctx.file,
        path,
        'PRIVILEGE_POLICY',
        `${describePath(path)}: ${refused}; if a reviewer accepts it, list it under privilegeExceptions: with ${how}`,
      );
    }
  }
  return grants;
}

/** The object of a grant: its shape checked, names checked, `pattern: true` kept as a LIKE pattern. */
function readGrantTarget(g: GrantYaml, path: Path, ctx: GrantContext): GrantTarget | undefined {
  const { file, diags } = ctx;
  if ((g.database === undefined) === (g.on === undefined))
    return badTarget(ctx, path, path, 'give exactly one of "database" or "on"');
  if ((g.profile === undefined) === (g.privileges === undefined))
    return badTarget(ctx, path, path, 'give exactly one of "profile" or "privileges"');
  if (g.profile && g.on !== undefined)
    return badTarget(
      ctx,
      path,
      [...path, 'profile'],
      `a profile applies to a whole database; write { database: ..., profile: ${g.profile} }`,
    );
  const at: Path = [...path, g.database !== undefined ? 'database' : 'on'];
  let target: GrantTarget;
  if (g.database !== undefined) target = { level: 'database', database: g.database };
  else {
    const parsed = parseOn(g.on!);
    if (typeof parsed === 'string') return badTarget(ctx, path, at, `${JSON.stringify(g.on)}: ${parsed}`);
    target = parsed;
  }
  if (g.columns && target.level !== 'table')
    return badTarget(ctx, path, [...path, 'columns'], 'columns need a table: on: db.table');
  if (g.pattern && target.level !== 'database')
    return badTarget(ctx, path, [...path, 'pattern'], PATTERN_ON_DATABASES);
  const names = [...grantNames(target), ...(g.columns ?? [])];
  const bad =
    names.map(identifierProblem).find((p) => p !== undefined) ??
    (target.level === 'routine' && ctx.dialect.asciiRoutineGrants && ctx.policy
      ? routineGrantProblem(ctx.policy.account.user, target.database, target.routine)
      : undefined);
  if (bad) return badTarget(ctx, path, at, bad);
  if (target.level === 'database' && g.pattern) {
    target = patternTarget(target.database);
    if (target.level === 'database' && target.pattern !== undefined) return target;
  }
  const literal = target.level === 'database' && literalDatabaseProblem(target.database);
  if (literal) return badTarget(ctx, path, at, literal);
  if (target.level !== 'global' && ctx.databases && !ctx.databases.includes(target.database)) {
    const hint = /[%_]/.test(target.database) ? ' (as a LIKE pattern, write pattern: true)' : '';
    diags.add(
      file,
      at,
      'UNKNOWN_DATABASE',
      `${describePath(path)}: database ${JSON.stringify(target.database)} is not listed in cluster ${ctx.cluster}'s databases (${ctx.databases.join(', ') || 'none'}); add it there${hint}`,
    );
  }
  return target;
}

const PATTERN_ON_DATABASES = 'pattern: true applies to a database grant (on: "pattern.*")';

/**
 * `db.*` with `pattern: true`. A pattern with no wildcard left unescaped (`app`, `app\_x`) is the
 * literal database, and the server stores and reads it back as one: as a pattern it would never match.
 */
function patternTarget(written: string): GrantTarget {
  const { database, pattern } = decodeDatabasePattern(written);
  return pattern !== undefined
    ? { level: 'database', database: written, pattern }
    : { level: 'database', database };
}

/** A grant whose object cannot be read: reported, and no grant made. */
function badTarget(ctx: GrantContext, path: Path, at: Path, message: string): undefined {
  ctx.diags.add(ctx.file, at, 'BAD_GRANT_TARGET', `${describePath(path)}: ${message}`);
  return undefined;
}

/** The privileges a grant names, expanded and checked for its level on the engine. USAGE names none. */
function readPrivileges(
  g: GrantYaml,
  path: Path,
  level: Grant['level'],
  { file, diags, dialect }: GrantContext,
): string[] {
  const allowed = dialect.privileges[level];
  const privileges = g.profile ? profilePrivileges(g.profile, dialect.privileges.database) : [];
  (g.privileges ?? []).forEach((raw, i) => {
    const p = raw.trim().toUpperCase().replace(/\s+/g, ' ');
    const at = [...path, 'privileges', i];
    if (p === 'USAGE') return;
    if (p === 'ALL' || p === 'ALL PRIVILEGES') {
      diags.add(
        file,
        at,
        'UNKNOWN_PRIVILEGE',
        `${describePath(path)}: ALL PRIVILEGES is never granted (it means other privileges on each engine and version, and on *.* the RDS master cannot grant it); use profile: admin or list the privileges`,
      );
    } else if (p === 'GRANT OPTION') {
      diags.add(
        file,
        at,
        'UNKNOWN_PRIVILEGE',
        `${describePath(path)}: write withGrantOption: true instead of GRANT OPTION`,
      );
    } else if (!allowed.includes(p) && !allowed.includes(PRIVILEGE_ALIASES[p] ?? '')) {
      const since = dialect.newerPrivileges?.[p];
      const message = since
        ? `${JSON.stringify(raw)} exists from ${dialect.name} ${since} on; declare the cluster's engineVersion (${since} or later) if it runs one`
        : `${JSON.stringify(raw)} is not a ${level}-level privilege on ${dialect.name}; allowed: ${allowed.join(', ')}`;
      diags.add(file, at, 'UNKNOWN_PRIVILEGE', `${describePath(path)}: ${message}`);
    } else privileges.push(dialect.name === 'mariadb' ? (PRIVILEGE_ALIASES[p] ?? p) : p);
  });
  return privileges;
}

/** The file's `privilegeExceptions`, each pointing at its YAML node when malformed. */
export function readExceptions(file: SourceFile, data: FileYaml, diags: Diagnostics): PrivilegeException[] {
  return (data.privilegeExceptions ?? []).flatMap((e, i) => {
    const parsed = parseOn(e.on);
    const target =
      typeof parsed === 'string' || !e.pattern
        ? parsed
        : parsed.level === 'database'
          ? patternTarget(parsed.database)
          : PATTERN_ON_DATABASES;
    if (typeof target === 'string') {
      diags.add(
        file,
        ['privilegeExceptions', i, 'on'],
        'BAD_GRANT_TARGET',
        `privilegeExceptions[${i}].on: ${JSON.stringify(e.on)}: ${target}`,
      );
      return [];
    }
    const at = e.account.lastIndexOf('@');
    const user = at < 0 ? e.account : e.account.slice(0, at);
    const host = at < 0 ? undefined : normaliseHost(e.account.slice(at + 1));
    // MariaDB grants REPLICATION CLIENT as BINLOG MONITOR, and its grants are compared on that name:
    // an exception written with either name covers both.
    const written = e.privileges.map((p) => p.trim().toUpperCase().replace(/\s+/g, ' '));
    const privileges = [...new Set(written.flatMap((p) => [p, PRIVILEGE_ALIASES[p] ?? p]))];
    return [{ user, ...(host !== undefined ? { host } : {}), target, privileges, reason: e.reason }];
  });
}
