/**
 * One account file → the desired accounts of each of its clusters: users and roles with their
 * grants, checked against the engine of the cluster they are declared on (names, hosts, roles,
 * IAM, secret names), each problem pointing at its YAML node.
 */
import { dialectForEngine, type Dialect } from '../dialect/index.js';
import { normaliseGrants } from '../model/grants.js';
import { hostProblem, isMasterSecret, normaliseHost, SECRET_NAME, secretNamePart } from '../model/names.js';
import type { PrivilegeException } from '../model/privilege-policy.js';
import { isBuiltInProtected } from '../model/protected.js';
import type { ClusterSpec, DesiredAccount, DesiredTarget } from '../model/types.js';
import { readExceptions, readGrant } from './grants.js';
import { describePath, type Diagnostics, type Path, type SourceFile } from './source-file.js';
import type { FileYaml, RoleRefYaml, RoleYaml, UserYaml } from './yaml.js';

/** The default secret name: the seed's `rds-<db>-<user>-secret` collides across clusters; this does not. */
export const DEFAULT_SECRET_TEMPLATE = 'rds-{cluster}-{user}-secret';

/** A cluster of the file, with its dialect and the accounts declared on it so far. */
interface ClusterEntry {
  spec: ClusterSpec;
  dialect: Dialect;
  accounts: DesiredAccount[];
}

/** The desired state of every cluster of one file; problems go to `diags`. */
export function readFile(file: SourceFile, data: FileYaml, diags: Diagnostics): DesiredTarget[] {
  return new FileReader(file, data, diags).read();
}

/** Reads one file: clusters first, then where each role lives, then users, then roles. */
class FileReader {
  private readonly exceptions: PrivilegeException[];
  private readonly clusters = new Map<string, ClusterEntry>();
  private readonly roles: Record<string, RoleYaml>;
  /** The clusters each role is created on. */
  private readonly roleClusters = new Map<string, Set<string>>();
  private readonly seenUsers = new Map<string, Path>();
  private readonly seenSecrets = new Map<string, string>();

  constructor(
    private readonly file: SourceFile,
    private readonly data: FileYaml,
    private readonly diags: Diagnostics,
  ) {
    this.exceptions = readExceptions(file, data, diags);
    this.roles = data.roles ?? {};
  }

  read(): DesiredTarget[] {
    for (const [i, c] of this.data.clusters.entries()) this.readCluster(c, i);
    this.placeRoles();
    for (const [i, u] of (this.data.users ?? []).entries()) if (u) this.readUser(u, ['users', i]);
    for (const [name, role] of Object.entries(this.roles)) {
      for (const c of this.roleClusters.get(name) ?? [])
        this.checkRoles(role.roles, ['roles', name, 'roles'], c);
    }
    for (const [name, role] of Object.entries(this.roles)) this.readRole(name, role);
    checkRoleCycles(this.file, this.roles, this.diags);
    const secretNameTemplate = this.data.secretNameTemplate ?? DEFAULT_SECRET_TEMPLATE;
    return [...this.clusters.values()].map(({ spec, accounts }) => ({
      cluster: spec,
      accounts,
      secretNameTemplate,
    }));
  }

  private where(p: Path): string {
    return `${this.file.path}:${this.file.position(p).line}`;
  }

  private get clusterNames(): string {
    return [...this.clusters.keys()].join(', ');
  }

  private readCluster(c: FileYaml['clusters'][number], i: number): void {
    const { data } = this;
    if (this.clusters.has(c.name)) {
      const message = `cluster ${JSON.stringify(c.name)} is declared twice in this file`;
      this.diags.add(this.file, ['clusters', i, 'name'], 'DUPLICATE_CLUSTER', message);
      return;
    }
    this.clusters.set(c.name, {
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
        ...(data.onDigestMismatch ? { onDigestMismatch: data.onDigestMismatch } : {}),
        privilegeExceptions: this.exceptions,
      },
    });
  }

  private use(role: string, cluster: string): void {
    this.roleClusters.set(role, (this.roleClusters.get(role) ?? new Set()).add(cluster));
  }

  /**
   * A declared role lives on the clusters it lists, or on every cluster of the file that has roles,
   * whether or not anyone holds it (and wherever a user or role uses it).
   */
  private placeRoles(): void {
    for (const [name, role] of Object.entries(this.roles)) {
      if (!role.clusters)
        for (const [c, { dialect }] of this.clusters) if (dialect.supportsRoles) this.use(name, c);
      (role.clusters ?? []).forEach((c, i) => {
        if (this.clusters.has(c)) {
          this.use(name, c);
          return;
        }
        const message = `role ${name}: cluster ${JSON.stringify(c)} is not declared; declared: ${this.clusterNames}`;
        this.diags.add(this.file, ['roles', name, 'clusters', i], 'UNKNOWN_CLUSTER', message);
      });
    }
  }

  /** Every role named is declared, and named once; each is then created on `cluster` too. */
  private checkRoles(refs: RoleRefYaml[] | undefined, path: Path, cluster: string): void {
    roleNames(refs).names.forEach((r, i, names) => {
      if (names.indexOf(r) < i) {
        this.diags.add(
          this.file,
          [...path, i],
          'DUPLICATE_ROLE',
          `${describePath(path)}: role ${JSON.stringify(r)} is listed twice; list it once, and say there how it is held`,
        );
        return;
      }
      if (r in this.roles) {
        this.use(r, cluster);
        return;
      }
      const declared = Object.keys(this.roles).join(', ') || 'none';
      this.diags.add(
        this.file,
        [...path, i],
        'UNKNOWN_ROLE',
        `${describePath(path)}: role ${JSON.stringify(r)} is not declared under roles:; declared: ${declared}`,
      );
    });
  }

  private readUser(u: UserYaml, path: Path): void {
    const { file, diags } = this;
    const cluster = this.clusters.get(u.cluster);
    if (!cluster) {
      const message = `user ${u.name}: cluster ${JSON.stringify(u.cluster)} is not declared; declared: ${this.clusterNames}`;
      diags.add(file, [...path, 'cluster'], 'UNKNOWN_CLUSTER', message);
      return;
    }
    // The server stores hosts in lower case: '%.Corp.example.com' and '%.corp.example.com' are one account.
    const host = normaliseHost(u.host ?? '%');
    const key = `${u.cluster}\0${u.name}\0${host}`;
    const first = this.seenUsers.get(key);
    if (first) {
      const how = (u.host ?? '%') !== host ? ' once the host is stored in lower case as the server does' : '';
      const message = `user '${u.name}'@'${host}' on cluster ${u.cluster} is declared twice${how} (first at ${this.where(first)})`;
      diags.add(file, [...path, 'name'], 'DUPLICATE_USER', message);
      return;
    }
    this.seenUsers.set(key, path);
    const { dialect, spec } = cluster;
    checkName(file, diags, [...path, 'name'], u.name, dialect, spec);
    this.checkUserEngine(u, path, host, cluster);
    const auth = u.auth ?? 'password';
    const policy = { account: { user: u.name, host }, engine: spec.engine, exceptions: this.exceptions };
    const context = { file, diags, dialect, databases: spec.databases, cluster: spec.name, policy };
    const grants = (u.grants ?? []).flatMap((g, j) => readGrant(g, [...path, 'grants', j], context));
    const database = grants.find((g) => g.level !== 'global')?.database ?? spec.databases[0] ?? 'db';
    cluster.accounts.push({
      kind: 'user',
      user: u.name,
      host,
      cluster: spec.name,
      auth,
      grants: normaliseGrants(grants),
      ...roleNames(u.roles).sorted,
      adopt: u.adopt ?? false,
      secretName: auth === 'password' ? this.secretName(u, path, host, spec, database) : undefined,
      rotationDays: u.rotationDays,
      iamPrincipals: u.iamPrincipals ?? [],
      source: this.where(path),
    });
  }

  /** What the cluster's engine allows a user: its host, roles, IAM. */
  private checkUserEngine(u: UserYaml, path: Path, host: string, { dialect, spec }: ClusterEntry): void {
    if (host.length > dialect.maxHostLength)
      this.report(
        path,
        'host',
        'NAME_TOO_LONG',
        `host is ${host.length} characters; ${dialect.name} allows ${dialect.maxHostLength}`,
      );
    else {
      const bad = hostProblem(host, dialect.maxHostLength);
      if (bad) this.report(path, 'host', 'BAD_HOST', `user ${u.name}: ${bad}`);
    }
    this.checkRoles(u.roles, [...path, 'roles'], u.cluster);
    const { names: roles, defaults } = roleNames(u.roles);
    if (roles.length > 0 && !dialect.supportsRoles) {
      this.report(
        path,
        'roles',
        'ENGINE_UNSUPPORTED',
        `user ${u.name}: ${spec.engine} ${spec.engineVersion ?? ''} has no roles; grant privileges directly`,
      );
    }
    if (defaults > 1 && !dialect.multipleDefaultRoles) {
      this.report(
        path,
        'roles',
        'ENGINE_UNSUPPORTED',
        `user ${u.name}: MariaDB activates only one default role, got ${defaults}; mark the others { name: ..., default: false }, or make a role that holds them`,
      );
    }
    if (
      u.auth === 'iam' &&
      spec.engine === 'mariadb' &&
      spec.engineVersion &&
      versionBelow(spec.engineVersion, [10, 11])
    ) {
      this.report(
        path,
        'auth',
        'ENGINE_UNSUPPORTED',
        `user ${u.name}: IAM authentication needs RDS for MariaDB 10.11 or later; cluster ${spec.name} is ${spec.engineVersion}`,
      );
    }
    if (u.auth === 'iam' && u.rotationDays !== undefined) {
      this.report(
        path,
        'rotationDays',
        'SCHEMA',
        `user ${u.name}: rotationDays applies to password users; IAM users have no password`,
      );
    }
  }

  /** A problem with one field of the user at `path`. */
  private report(
    path: Path,
    at: string,
    code: 'NAME_TOO_LONG' | 'BAD_HOST' | 'ENGINE_UNSUPPORTED' | 'SCHEMA',
    message: string,
  ): void {
    this.diags.add(this.file, [...path, at], code, message);
  }

  /** A password user's secret name: valid for Secrets Manager and used by no other user of the cluster. */
  private secretName(u: UserYaml, path: Path, host: string, spec: ClusterSpec, database: string): string {
    const { data } = this;
    const template = data.secretNameTemplate ?? DEFAULT_SECRET_TEMPLATE;
    const name =
      u.secretName ??
      secretNameFor(template, {
        account: data.account,
        alias: data.alias,
        cluster: spec.name,
        user: u.name,
        host,
        database,
      });
    // At the secretName: written, or at the user whose name made it.
    const at = [...path, u.secretName !== undefined ? 'secretName' : 'name'];
    if (!SECRET_NAME.test(name)) {
      const message = `user ${u.name}: its secret name ${JSON.stringify(name)} has characters Secrets Manager refuses (allowed: letters, digits, /_+=.@-); set secretName:`;
      this.diags.add(this.file, at, 'SECRET_NAME', message);
    }
    // One Secrets Manager namespace per account and Region: clusters there share it.
    let master: ClusterEntry | undefined;
    for (const c of this.clusters.values())
      if (c.spec.region === spec.region && isMasterSecret(c.spec, name)) master = c;
    if (master) {
      const message = `user ${u.name}: secret name ${name} is the master secret of cluster ${master.spec.name}, which dbusers never writes; set another secretName:`;
      this.diags.add(this.file, at, 'SECRET_NAME', message);
    }
    const key = `${spec.region}\0${name}`;
    const clash = this.seenSecrets.get(key);
    if (clash) {
      const message = `user ${u.name}: secret name ${name} is already used by ${clash}; set secretName: or change secretNameTemplate`;
      this.diags.add(this.file, at, 'SECRET_NAME', message);
    } else this.seenSecrets.set(key, `'${u.name}'@'${host}' on cluster ${spec.name}`);
    return name;
  }

  /** A role on each cluster it lives on. */
  private readRole(name: string, role: RoleYaml): void {
    const path: Path = ['roles', name];
    for (const c of [...(this.roleClusters.get(name) ?? [])].sort()) {
      const { dialect, spec, accounts } = this.clusters.get(c)!;
      if (!dialect.supportsRoles) {
        const message = `role ${name}: ${spec.engine} ${spec.engineVersion ?? ''} on cluster ${c} has no roles`;
        this.diags.add(this.file, path, 'ENGINE_UNSUPPORTED', message, true);
        continue;
      }
      checkName(this.file, this.diags, path, name, dialect, spec, true);
      if (dialect.reservedRoleNames.includes(name.toUpperCase()) && !isBuiltInProtected(name)) {
        const message = `role ${name}: ${spec.engine} reserves ${dialect.reservedRoleNames.join(' and ')} in any case and refuses them as role names; choose another name`;
        this.diags.add(this.file, path, 'UNUSABLE_NAME', message, true);
      }
      const policy = {
        account: { user: name, host: dialect.roleHost },
        engine: spec.engine,
        exceptions: this.exceptions,
      };
      const context = {
        file: this.file,
        diags: this.diags,
        dialect,
        databases: spec.databases,
        cluster: c,
        policy,
      };
      const grants = (role.grants ?? []).flatMap((g, j) => readGrant(g, [...path, 'grants', j], context));
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
        source: this.where(path),
      });
    }
  }
}

/** Fill the secret name template; `{host}` keeps only characters a secret name allows. */
export function secretNameFor(
  template: string,
  values: Record<'account' | 'alias' | 'cluster' | 'user' | 'host' | 'database', string>,
): string {
  return template.replace(/\{(account|alias|cluster|user|host|database)\}/g, (_, k: keyof typeof values) =>
    k === 'host' ? secretNamePart(values.host.replace(/%/g, 'any')) : values[k],
  );
}

/**
 * Role references → names, and the names held with the admin option or not made default roles
 * (`adminRoles` and `nonDefaultRoles` only when any).
 */
function roleNames(refs: RoleRefYaml[] | undefined) {
  const names = (refs ?? []).map((r) => (typeof r === 'string' ? r : r.name));
  const marked = (mark: (r: Exclude<RoleRefYaml, string>) => boolean | undefined) =>
    (refs ?? []).flatMap((r) => (typeof r !== 'string' && mark(r) ? [r.name] : [])).sort();
  const admin = marked((r) => r.admin);
  const nonDefault = marked((r) => r.default === false);
  return {
    names,
    defaults: names.length - nonDefault.length,
    sorted: {
      roles: [...names].sort(),
      ...(admin.length ? { adminRoles: admin } : {}),
      ...(nonDefault.length ? { nonDefaultRoles: nonDefault } : {}),
    },
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
