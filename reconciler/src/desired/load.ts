/**
 * users/*.yaml → the desired state of every cluster, or every problem in every file at once, each
 * pointing at its YAML node. Nothing downstream runs when any diagnostic is returned.
 */
import Ajv2020, { type ErrorObject } from 'ajv/dist/2020.js';
import { basename, dirname } from 'node:path';
import schema from '../../../schemas/users.schema.json' with { type: 'json' };
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { dialectForEngine, type Dialect } from '../dialect/index.js';
import { PRIVILEGE_ALIASES, profilePrivileges } from '../dialect/privileges.js';
import { normaliseGrants } from '../model/grants.js';
import type { UnreadableFile } from '../ports/index.js';
import type {
  AccountId,
  ClusterSpec,
  DesiredAccount,
  DesiredTarget,
  Diagnostic,
  DiagnosticCode,
  Engine,
  Grant,
  GrantTarget,
} from '../model/types.js';
import { hostProblem, identifierProblem, normaliseHost, SECRET_NAME } from '../model/names.js';
import { refusedGrants, type PrivilegeException } from '../model/privilege-policy.js';
import { isBuiltInProtected } from '../model/protected.js';

const ajv = new Ajv2020.default({ allErrors: true, strict: false, verbose: true });
const validateSchema = ajv.compile(schema as object);

/** The default secret name: the seed's `rds-<db>-<user>-secret` collides across clusters; this does not. */
export const DEFAULT_SECRET_TEMPLATE = 'rds-{cluster}-{user}-secret';

type Path = (string | number)[];

/** The YAML of one user or role entry, as the schema admits it. */
interface GrantYaml {
  database?: string;
  pattern?: boolean;
  profile?: 'readonly' | 'readwrite' | 'admin';
  on?: string;
  privileges?: string[];
  columns?: string[];
  withGrantOption?: boolean;
}
/** A role held: by name, or with the admin option. */
type RoleRefYaml = string | { name: string; admin?: boolean };
interface UserYaml {
  name: string;
  host?: string;
  cluster: string;
  auth?: 'password' | 'iam';
  grants?: GrantYaml[];
  roles?: RoleRefYaml[];
  rotationDays?: number;
  adopt?: boolean;
  secretName?: string;
  iamPrincipals?: string[];
}
interface RoleYaml {
  grants?: GrantYaml[];
  roles?: RoleRefYaml[];
  clusters?: string[];
  adopt?: boolean;
}
interface ClusterYaml {
  name: string;
  region: string;
  engine: Engine;
  engineVersion?: string;
  endpoint: string;
  port: number;
  masterSecretArn: string;
  resourceId?: string;
  databases: string[];
}
interface ExceptionYaml {
  account: string;
  on: string;
  privileges: string[];
  reason: string;
}
interface FileYaml {
  account: string;
  alias: string;
  privilegeExceptions?: ExceptionYaml[];
  secretNameTemplate?: string;
  protected?: string[];
  drift?: { remediate?: boolean };
  clusters: ClusterYaml[];
  roles?: Record<string, RoleYaml>;
  users?: UserYaml[];
}

/** One parsed file and a way to point at its nodes. */
class SourceFile {
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
class Diagnostics {
  readonly list: Diagnostic[] = [];
  add(file: SourceFile, path: Path, code: DiagnosticCode, message: string, atKey = false): void {
    const { line, col } = file.position(path, atKey);
    this.list.push({ code, file: file.path, line, col, message });
  }
}

/** Where a path points, as a person reads it: `users[1].grants[0].on`. */
function describePath(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('') || '(file)';
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

function hint(e: ErrorObject): string {
  const description = (e.parentSchema as { description?: string })?.description;
  return description ? ` (${description})` : '';
}

/** Split `a.b`, `` `a.b`.c ``, `PROCEDURE db.p` into a grant target, or say why not. */
export function parseOn(on: string): GrantTarget | string {
  const m = /^(PROCEDURE|FUNCTION)\s+(.*)$/i.exec(on.trim());
  const body = m ? m[2]! : on.trim();
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  let wasQuoted = false;
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
      parts.push(wasQuoted ? current : current.trim());
      current = '';
      wasQuoted = false;
    } else current += c;
  }
  if (quoted) return 'an unclosed backtick';
  parts.push(wasQuoted ? current : current.trim());
  if (parts.length !== 2 || parts.some((p) => p === ''))
    return 'expected database.object (quote names with dots in backticks)';
  const [db, object] = parts as [string, string];
  if (m) {
    if (db === '*' || object === '*') return `${m[1]!.toUpperCase()} needs a database and a routine name`;
    return {
      level: 'routine',
      database: db,
      routine: object,
      routineType: m[1]!.toUpperCase() as 'PROCEDURE' | 'FUNCTION',
    };
  }
  if (db === '*') return object === '*' ? { level: 'global' } : '*.table is not a grant target';
  if (object === '*') return { level: 'database', database: db };
  return { level: 'table', database: db, table: object };
}

/** What readGrant needs besides the grant. */
interface GrantContext {
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
function readGrant(g: GrantYaml, path: Path, ctx: GrantContext): Grant[] {
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
    for (const refused of new Set(refusedGrants(account, grants, engine, exceptions))) {
      ctx.diags.add(
        ctx.file,
        path,
        'PRIVILEGE_POLICY',
        `${describePath(path)}: ${refused}; if a reviewer accepts it, list it under privilegeExceptions: with a reason`,
      );
    }
  }
  return grants;
}

/** The object of a grant: its shape checked, names checked, `pattern: true` kept as a LIKE pattern. */
function readGrantTarget(g: GrantYaml, path: Path, ctx: GrantContext): GrantTarget | undefined {
  const { file, diags } = ctx;
  const fail = (at: Path, message: string) =>
    void diags.add(file, at, 'BAD_GRANT_TARGET', `${describePath(path)}: ${message}`);
  if ((g.database === undefined) === (g.on === undefined))
    return fail(path, 'give exactly one of "database" or "on"');
  if ((g.profile === undefined) === (g.privileges === undefined))
    return fail(path, 'give exactly one of "profile" or "privileges"');
  if (g.profile && g.on !== undefined)
    return fail(
      [...path, 'profile'],
      `a profile applies to a whole database; write { database: ..., profile: ${g.profile} }`,
    );
  const at: Path = [...path, g.database !== undefined ? 'database' : 'on'];
  let target: GrantTarget;
  if (g.database !== undefined) target = { level: 'database', database: g.database };
  else {
    const parsed = parseOn(g.on!);
    if (typeof parsed === 'string') return fail(at, `${JSON.stringify(g.on)}: ${parsed}`);
    target = parsed;
  }
  if (g.columns && target.level !== 'table')
    return fail([...path, 'columns'], 'columns need a table: on: db.table');
  if (g.pattern && target.level !== 'database')
    return fail([...path, 'pattern'], 'pattern: true applies to a database grant (on: "pattern.*")');
  const names =
    target.level === 'global'
      ? []
      : [
          target.database,
          ...('table' in target ? [target.table] : []),
          ...('routine' in target ? [target.routine] : []),
          ...(g.columns ?? []),
        ];
  const bad = names.map(identifierProblem).find((p) => p !== undefined);
  if (bad) return fail(at, bad);
  if (target.level === 'database' && g.pattern) return { ...target, pattern: target.database };
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
        `${describePath(path)}: ALL PRIVILEGES is never granted (it fails on RDS); use profile: admin or list the privileges`,
      );
    } else if (p === 'GRANT OPTION') {
      diags.add(
        file,
        at,
        'UNKNOWN_PRIVILEGE',
        `${describePath(path)}: write withGrantOption: true instead of GRANT OPTION`,
      );
    } else if (!allowed.includes(p) && !allowed.includes(PRIVILEGE_ALIASES[p] ?? '')) {
      diags.add(
        file,
        at,
        'UNKNOWN_PRIVILEGE',
        `${describePath(path)}: ${JSON.stringify(raw)} is not a ${level}-level privilege on ${dialect.name}; allowed: ${allowed.join(', ')}`,
      );
    } else privileges.push(dialect.name === 'mariadb' ? (PRIVILEGE_ALIASES[p] ?? p) : p);
  });
  return privileges;
}

/** The file's `privilegeExceptions`, each pointing at its YAML node when malformed. */
function readExceptions(file: SourceFile, data: FileYaml, diags: Diagnostics): PrivilegeException[] {
  return (data.privilegeExceptions ?? []).flatMap((e, i) => {
    const target = parseOn(e.on);
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
    const privileges = e.privileges.map((p) => p.trim().toUpperCase().replace(/\s+/g, ' '));
    return [{ user, ...(host !== undefined ? { host } : {}), target, privileges, reason: e.reason }];
  });
}

/** Fill the secret name template; `{host}` keeps only characters a secret name allows. */
export function secretNameFor(
  template: string,
  values: Record<'account' | 'alias' | 'cluster' | 'user' | 'host' | 'database', string>,
): string {
  return template.replace(/\{(account|alias|cluster|user|host|database)\}/g, (_, k: keyof typeof values) =>
    k === 'host' ? values.host.replace(/%/g, 'any').replace(/[^A-Za-z0-9/_+=.@-]/g, '_') : values[k],
  );
}

/** The result of loading: targets when there is nothing to report, diagnostics otherwise. */
export interface LoadResult {
  targets: DesiredTarget[];
  diagnostics: Diagnostic[];
}

/** Aliases one file may expand: a few dozen is plenty for real files; a billion-laughs file is refused. */
const MAX_ALIASES = 1000;

/**
 * Load and check every file; files are taken in name order so diagnostics are stable. A file the
 * source could not read as text is reported at 1:1. Schema errors in one user or role do not hide
 * the checks of the rest: the invalid entries are left out (a role kept empty, so references to
 * it still resolve) and the file goes on to the cross-file checks.
 */
export function loadDesired(files: ReadonlyMap<string, string | UnreadableFile>): LoadResult {
  const diags = new Diagnostics();
  const parsed: { file: SourceFile; data: FileYaml }[] = [];
  if (files.size === 0) {
    diags.list.push({
      code: 'FILE',
      file: 'users/',
      line: 1,
      col: 1,
      message: 'no account file (users/<alias>.yaml) was found: nothing to check or apply',
    });
  }
  for (const path of [...files.keys()].sort()) {
    const content = files.get(path)!;
    if (typeof content !== 'string') {
      diags.list.push({ code: content.code, file: path, line: 1, col: 1, message: content.reason });
      continue;
    }
    const file = new SourceFile(path, content);
    if (file.doc.errors.length > 0) {
      for (const e of file.doc.errors)
        diags.list.push({
          code: 'YAML_SYNTAX',
          file: path,
          ...syntaxPosition(file, e),
          message: e.message.split('\n')[0]!,
        });
      continue;
    }
    let data: unknown;
    try {
      data = file.doc.toJS({ maxAliasCount: MAX_ALIASES });
    } catch (error) {
      diags.list.push({
        code: 'YAML_SYNTAX',
        file: path,
        line: 1,
        col: 1,
        message: `${(error as Error).message}: aliases expand to more than ${MAX_ALIASES} nodes`,
      });
      continue;
    }
    const valid = validateSchema(data) ? (data as FileYaml) : pruneInvalid(file, data, diags);
    if (valid) parsed.push({ file, data: valid });
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

/**
 * Report a file's schema errors, then keep what can still be checked: without its invalid users,
 * and with its invalid roles emptied. Undefined when the file itself (account, alias, clusters...)
 * is invalid.
 */
function pruneInvalid(file: SourceFile, data: unknown, diags: Diagnostics): FileYaml | undefined {
  const users = new Set<number>();
  const roles = new Set<string>();
  let whole = false;
  for (const e of validateSchema.errors ?? []) {
    if (e.keyword === 'if') continue;
    const { path: p, message, atKey } = schemaMessage(e, data);
    diags.add(file, p, 'SCHEMA', message, atKey);
    if (p[0] === 'users' && typeof p[1] === 'number') users.add(p[1]);
    else if (p[0] === 'roles' && typeof p[1] === 'string') roles.add(p[1]);
    else whole = true;
  }
  if (whole) return undefined;
  const d = data as FileYaml;
  return {
    ...d,
    users: d.users?.filter((_, i) => !users.has(i)),
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

function readFile(file: SourceFile, data: FileYaml, diags: Diagnostics): DesiredTarget[] {
  const exceptions = readExceptions(file, data, diags);
  const clusters = new Map<string, { spec: ClusterSpec; dialect: Dialect; accounts: DesiredAccount[] }>();
  data.clusters.forEach((c, i) => {
    if (clusters.has(c.name)) {
      diags.add(
        file,
        ['clusters', i, 'name'],
        'DUPLICATE_CLUSTER',
        `cluster ${JSON.stringify(c.name)} is declared twice in this file`,
      );
      return;
    }
    clusters.set(c.name, {
      dialect: dialectForEngine(c.engine, c.engineVersion),
      accounts: [],
      spec: {
        name: c.name,
        account: data.account,
        alias: data.alias,
        region: c.region,
        engine: c.engine,
        engineVersion: c.engineVersion,
        endpoint: c.endpoint,
        port: c.port,
        masterSecretArn: c.masterSecretArn,
        databases: c.databases,
        resourceId: c.resourceId,
        protectedAccounts: data.protected ?? [],
        remediateDrift: data.drift?.remediate ?? false,
        privilegeExceptions: exceptions,
      },
    });
  });
  const clusterNames = [...clusters.keys()].join(', ');
  const roles = data.roles ?? {};
  const template = data.secretNameTemplate ?? DEFAULT_SECRET_TEMPLATE;
  const where = (p: Path) => `${file.path}:${file.position(p).line}`;

  // A declared role lives on the clusters it lists, or on every cluster of the file that has roles,
  // whether or not anyone holds it (and wherever a user or role uses it).
  const roleClusters = new Map<string, Set<string>>();
  const use = (role: string, cluster: string) =>
    roleClusters.set(role, (roleClusters.get(role) ?? new Set()).add(cluster));
  for (const [name, role] of Object.entries(roles)) {
    if (!role.clusters) for (const [c, { dialect }] of clusters) if (dialect.supportsRoles) use(name, c);
    (role.clusters ?? []).forEach((c, i) => {
      if (!clusters.has(c))
        diags.add(
          file,
          ['roles', name, 'clusters', i],
          'UNKNOWN_CLUSTER',
          `role ${name}: cluster ${JSON.stringify(c)} is not declared; declared: ${clusterNames}`,
        );
      else use(name, c);
    });
  }
  const checkRoles = (refs: RoleRefYaml[] | undefined, path: Path, cluster: string) =>
    roleNames(refs).names.forEach((r, i) => {
      if (!(r in roles))
        diags.add(
          file,
          [...path, i],
          'UNKNOWN_ROLE',
          `${describePath(path)}: role ${JSON.stringify(r)} is not declared under roles:; declared: ${Object.keys(roles).join(', ') || 'none'}`,
        );
      else use(r, cluster);
    });

  const seenUsers = new Map<string, Path>();
  const seenSecrets = new Map<string, string>();
  (data.users ?? []).forEach((u, i) => {
    const path: Path = ['users', i];
    const cluster = clusters.get(u.cluster);
    if (!cluster) {
      diags.add(
        file,
        [...path, 'cluster'],
        'UNKNOWN_CLUSTER',
        `user ${u.name}: cluster ${JSON.stringify(u.cluster)} is not declared; declared: ${clusterNames}`,
      );
      return;
    }
    // The server stores hosts in lower case: '%.Corp.example.com' and '%.corp.example.com' are one account.
    const host = normaliseHost(u.host ?? '%');
    const key = `${u.cluster}\0${u.name}\0${host}`;
    const first = seenUsers.get(key);
    if (first) {
      const how = (u.host ?? '%') !== host ? ` once the host is stored in lower case as the server does` : '';
      diags.add(
        file,
        [...path, 'name'],
        'DUPLICATE_USER',
        `user '${u.name}'@'${host}' on cluster ${u.cluster} is declared twice${how} (first at ${where(first)})`,
      );
      return;
    }
    seenUsers.set(key, path);
    const { dialect, spec } = cluster;
    checkName(file, diags, [...path, 'name'], u.name, dialect, spec);
    if (host.length > dialect.maxHostLength)
      diags.add(
        file,
        [...path, 'host'],
        'NAME_TOO_LONG',
        `host is ${host.length} characters; ${dialect.name} allows ${dialect.maxHostLength}`,
      );
    else {
      const bad = hostProblem(host, dialect.maxHostLength);
      if (bad) diags.add(file, [...path, 'host'], 'BAD_HOST', `user ${u.name}: ${bad}`);
    }
    checkRoles(u.roles, [...path, 'roles'], u.cluster);
    if ((u.roles?.length ?? 0) > 0 && !dialect.supportsRoles) {
      diags.add(
        file,
        [...path, 'roles'],
        'ENGINE_UNSUPPORTED',
        `user ${u.name}: ${spec.engine} ${spec.engineVersion ?? ''} has no roles; grant privileges directly`,
      );
    }
    if (roleNames(u.roles).names.length > 1 && !dialect.multipleDefaultRoles) {
      diags.add(
        file,
        [...path, 'roles'],
        'ENGINE_UNSUPPORTED',
        `user ${u.name}: MariaDB activates only one default role, got ${u.roles!.length}; make a role that holds the others`,
      );
    }
    const auth = u.auth ?? 'password';
    if (
      auth === 'iam' &&
      spec.engine === 'mariadb' &&
      spec.engineVersion &&
      versionBelow(spec.engineVersion, [10, 11])
    ) {
      diags.add(
        file,
        [...path, 'auth'],
        'ENGINE_UNSUPPORTED',
        `user ${u.name}: IAM authentication needs RDS for MariaDB 10.11 or later; cluster ${spec.name} is ${spec.engineVersion}`,
      );
    }
    if (auth === 'iam' && u.rotationDays !== undefined) {
      diags.add(
        file,
        [...path, 'rotationDays'],
        'SCHEMA',
        `user ${u.name}: rotationDays applies to password users; IAM users have no password`,
      );
    }
    const policy = { account: { user: u.name, host }, engine: spec.engine, exceptions };
    const grants = (u.grants ?? []).flatMap((g, j) =>
      readGrant(g, [...path, 'grants', j], {
        file,
        diags,
        dialect,
        databases: spec.databases,
        cluster: spec.name,
        policy,
      }),
    );
    let secretName: string | undefined;
    if (auth === 'password') {
      const database = grants.find((g) => g.level !== 'global')?.database ?? spec.databases[0] ?? 'db';
      secretName =
        u.secretName ??
        secretNameFor(template, {
          account: data.account,
          alias: data.alias,
          cluster: spec.name,
          user: u.name,
          host,
          database,
        });
      if (!SECRET_NAME.test(secretName)) {
        diags.add(
          file,
          [...path, 'name'],
          'SECRET_NAME',
          `user ${u.name}: its secret name ${JSON.stringify(secretName)} has characters Secrets Manager refuses (allowed: letters, digits, /_+=.@-); set secretName:`,
        );
      }
      const clash = seenSecrets.get(`${spec.name}\0${secretName}`);
      if (clash)
        diags.add(
          file,
          [...path, 'name'],
          'SECRET_NAME',
          `user ${u.name}: secret name ${secretName} is already used by ${clash}; set secretName: or change secretNameTemplate`,
        );
      seenSecrets.set(`${spec.name}\0${secretName}`, `'${u.name}'@'${host}'`);
    }
    cluster.accounts.push({
      kind: 'user',
      user: u.name,
      host,
      cluster: spec.name,
      auth,
      grants: normaliseGrants(grants),
      ...roleNames(u.roles).sorted,
      adopt: u.adopt ?? false,
      secretName,
      rotationDays: u.rotationDays,
      iamPrincipals: u.iamPrincipals ?? [],
      source: where(path),
    });
  });
  for (const [name, role] of Object.entries(roles)) {
    for (const c of roleClusters.get(name) ?? []) checkRoles(role.roles, ['roles', name, 'roles'], c);
  }
  for (const [name, role] of Object.entries(roles)) {
    const path: Path = ['roles', name];
    for (const c of [...(roleClusters.get(name) ?? [])].sort()) {
      const { dialect, spec, accounts } = clusters.get(c)!;
      if (!dialect.supportsRoles) {
        diags.add(
          file,
          path,
          'ENGINE_UNSUPPORTED',
          `role ${name}: ${spec.engine} ${spec.engineVersion ?? ''} on cluster ${c} has no roles`,
          true,
        );
        continue;
      }
      checkName(file, diags, path, name, dialect, spec, true);
      const policy = { account: { user: name, host: dialect.roleHost }, engine: spec.engine, exceptions };
      const grants = (role.grants ?? []).flatMap((g, j) =>
        readGrant(g, [...path, 'grants', j], {
          file,
          diags,
          dialect,
          databases: spec.databases,
          cluster: c,
          policy,
        }),
      );
      accounts.push({
        kind: 'role',
        user: name,
        host: dialect.roleHost,
        cluster: c,
        auth: 'none',
        grants: normaliseGrants(grants),
        ...roleNames(role.roles).sorted,
        adopt: role.adopt ?? false,
        iamPrincipals: [],
        source: where(path),
      });
    }
  }
  checkRoleCycles(file, roles, diags);
  return [...clusters.values()].map(({ spec, accounts }) => ({ cluster: spec, accounts }));
}

/** Role references → names, and the names held with the admin option (`adminRoles` only when any). */
function roleNames(refs: RoleRefYaml[] | undefined) {
  const names = (refs ?? []).map((r) => (typeof r === 'string' ? r : r.name));
  const admin = (refs ?? []).flatMap((r) => (typeof r !== 'string' && r.admin ? [r.name] : []));
  return {
    names,
    sorted: { roles: [...names].sort(), ...(admin.length ? { adminRoles: admin.sort() } : {}) },
  };
}

/** A role that holds itself through others cannot be created: the server refuses the last grant. */
function checkRoleCycles(file: SourceFile, roles: Record<string, RoleYaml>, diags: Diagnostics): void {
  const state = new Map<string, 'visiting' | 'done'>();
  const trail: string[] = [];
  const visit = (name: string): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      const cycle = [...trail.slice(trail.indexOf(name)), name].join(' → ');
      diags.add(
        file,
        ['roles', trail[trail.length - 1]!, 'roles'],
        'ROLE_CYCLE',
        `role ${name} holds itself: ${cycle}; remove one of these grants`,
        true,
      );
      return;
    }
    state.set(name, 'visiting');
    trail.push(name);
    for (const held of roleNames(roles[name]?.roles).names) if (held in roles) visit(held);
    trail.pop();
    state.set(name, 'done');
  };
  for (const name of Object.keys(roles)) visit(name);
}

function checkName(
  file: SourceFile,
  diags: Diagnostics,
  path: Path,
  name: string,
  dialect: Dialect,
  spec: ClusterSpec,
  atKey = false,
): void {
  if ([...name].length > dialect.maxUserLength) {
    diags.add(
      file,
      path,
      'NAME_TOO_LONG',
      `${JSON.stringify(name)} is ${[...name].length} characters; ${spec.engine} allows ${dialect.maxUserLength}`,
      atKey,
    );
  }
  if (!atKey && name.length >= 2 && name.startsWith("'") && name.endsWith("'")) {
    // The server strips one pair of surrounding single quotes from a login name: nobody could log in.
    diags.add(
      file,
      path,
      'UNUSABLE_NAME',
      `${JSON.stringify(name)} starts and ends with a single quote, which the server strips at login; nobody could log in as it`,
    );
  }
  if (isBuiltInProtected(name)) {
    diags.add(
      file,
      path,
      'PROTECTED_ACCOUNT',
      `${JSON.stringify(name)} is a reserved account that dbusers never manages; choose another name`,
      atKey,
    );
  }
}

function versionBelow(version: string, floor: [number, number]): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major < floor[0] || (major === floor[0] && minor < floor[1]);
}

/** `file:line:col CODE message`, with the offending line and a caret under the column. */
export function formatDiagnostic(d: Diagnostic, text?: string | UnreadableFile): string {
  const head = `${d.file}:${d.line}:${d.col} ${d.code} ${d.message}`;
  const line = typeof text === 'string' ? text.split('\n')[d.line - 1] : undefined;
  if (line === undefined) return head;
  return `${head}\n  ${line}\n  ${' '.repeat(Math.max(0, d.col - 1))}^`;
}
