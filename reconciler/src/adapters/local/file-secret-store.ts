/**
 * The local secret store: one JSON file per secret under `<state>/secrets/`, mode 0600, holding
 * the same RDS credentials JSON as Secrets Manager would, with AWSCURRENT / AWSPENDING /
 * AWSPREVIOUS versions. Deleted secrets are only marked, so they stay recoverable.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { SecretMeta } from '../../model/types.js';
import {
  secretJson,
  type RdsCredentials,
  type SecretSpec,
  type SecretStore,
  type SecretsRead,
} from '../../ports/index.js';

type Stage = 'AWSCURRENT' | 'AWSPENDING' | 'AWSPREVIOUS';

/** The file's content. */
export interface SecretFile {
  name: string;
  description: string;
  tags: Record<string, string>;
  createdAt: string;
  deletedAt?: string;
  deletionDate?: string;
  versions: { id: string; stages: Stage[]; createdAt: string; value: RdsCredentials }[];
}

/** The registry signing key's file: not a `.json` secret, so names() never lists it. */
const REGISTRY_KEY_FILE = 'registry-key';

/**
 * Letters, digits and `- . _`: nothing to escape in SQL, JSON, shells or URLs (`- . _` are URL
 * unreserved characters), and what password validation plugins ask for (below).
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._';

/**
 * Each kind of character a password validation plugin asks for by default: an upper-case and a
 * lower-case letter, a digit, and another character (MySQL's validate_password MEDIUM policy,
 * MariaDB's simple_password_check).
 */
export const PASSWORD_KINDS = [/[A-Z]/, /[a-z]/, /[0-9]/, /[-._]/];

/** A crypto-strong password of `length` characters of ALPHABET (no modulo bias), with each of PASSWORD_KINDS. */
export function generatePassword(length = 32): string {
  for (;;) {
    let out = '';
    while (out.length < length) {
      for (const byte of randomBytes(length * 2)) {
        if (byte < 195 && out.length < length) out += ALPHABET[byte % 65];
      }
    }
    if (PASSWORD_KINDS.every((kind) => kind.test(out))) return out;
  }
}

/** Secrets kept as files in a folder. */
export class FileSecretStore implements SecretStore {
  constructor(
    readonly dir: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  private path(name: string): string {
    return join(this.dir, `${encodeURIComponent(name)}.json`);
  }

  /** Read a secret file; undefined when it does not exist (one system call: inspect reads thousands). */
  read(name: string): SecretFile | undefined {
    let text: string;
    try {
      text = readFileSync(this.path(name), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    return secretJson<SecretFile>(text, name);
  }

  private write(file: SecretFile): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const p = this.path(file.name);
    // Unique per write: a temp file left by a crash (same pid after a restart, as in a container) never blocks the next.
    const tmp = `${p}.${process.pid}.${randomUUID()}.tmp`;
    writeFileSync(tmp, JSON.stringify(file, null, 2) + '\n', { mode: 0o600, flag: 'wx' }); // a new file: created 0600
    renameSync(tmp, p); // atomic: a crash leaves the old file or the new one, never half of one
    this.removeStaleTemps(p);
  }

  /** Temp files of this secret older than a minute belong to a write that crashed: remove them. */
  private removeStaleTemps(p: string): void {
    const prefix = `${p.slice(this.dir.length + 1)}.`;
    const cutoff = Date.now() - 60_000;
    for (const f of readdirSync(this.dir)) {
      if (!f.startsWith(prefix) || !f.endsWith('.tmp')) continue;
      const path = join(this.dir, f);
      if ((statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? Infinity) < cutoff)
        rmSync(path, { force: true });
    }
  }

  /** Every secret file's name. */
  names(): string[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => decodeURIComponent(f.slice(0, -5)));
  }

  async describe(name: string): Promise<SecretMeta | undefined> {
    return metaOf(name, this.read(name));
  }

  /** One read per file, whether its metadata, its value or both are asked for. */
  async readMany(names: readonly string[], valuesOf: readonly string[]): Promise<SecretsRead> {
    const metas: Record<string, SecretMeta> = {};
    const values: Record<string, RdsCredentials> = {};
    const described = new Set(names);
    const valued = new Set(valuesOf);
    for (const name of new Set([...names, ...valuesOf])) {
      const file = this.read(name);
      const meta = described.has(name) ? metaOf(name, file) : undefined;
      if (meta) metas[name] = meta;
      const value = valued.has(name) ? versionValue(file, 'AWSCURRENT') : undefined;
      if (value) values[name] = value;
    }
    return { metas, values };
  }

  /** Secrets made by ensure() and not yet written: a secret with no version holds nothing to lose. */
  private readonly unwritten = new Map<string, SecretFile>();

  async ensure(spec: SecretSpec): Promise<SecretMeta | undefined> {
    const file = this.read(spec.name);
    const found = metaOf(spec.name, file);
    if (!file) {
      // Written with its first (pending) version, before any server holds that password.
      this.unwritten.set(spec.name, {
        name: spec.name,
        description: spec.description,
        tags: spec.tags,
        createdAt: this.clock().toISOString(),
        versions: [],
      });
    } else if (file.deletedAt) {
      delete file.deletedAt;
      delete file.deletionDate;
      this.write(file);
    }
    return found;
  }

  async getValue(
    name: string,
    stage: 'AWSCURRENT' | 'AWSPENDING' | { versionId: string },
  ): Promise<RdsCredentials | undefined> {
    return versionValue(this.read(name), stage);
  }

  async versionStages(name: string, versionId: string): Promise<readonly string[] | undefined> {
    return this.read(name)?.versions.find((v) => v.id === versionId)?.stages;
  }

  async putPending(name: string, value: RdsCredentials, versionId: string = randomUUID()): Promise<string> {
    const file = this.read(name) ?? this.unwritten.get(name);
    if (!file) throw new Error(`secret ${name} does not exist`);
    this.unwritten.delete(name);
    if (file.versions.some((v) => v.id === versionId)) return versionId; // the same token twice: already written
    for (const v of file.versions) v.stages = v.stages.filter((s) => s !== 'AWSPENDING');
    file.versions.push({
      id: versionId,
      stages: ['AWSPENDING'],
      createdAt: this.clock().toISOString(),
      value,
    });
    this.write(file);
    return versionId;
  }

  async registryKey(create: boolean): Promise<string | undefined> {
    const path = join(this.dir, REGISTRY_KEY_FILE);
    if (existsSync(path)) return readFileSync(path, 'utf8').trim();
    if (!create) return undefined;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    try {
      writeFileSync(path, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error; // another run made it first: use theirs
    }
    return readFileSync(path, 'utf8').trim();
  }

  async promotePending(name: string): Promise<void> {
    const file = this.read(name);
    const pending = file?.versions.find(
      (v) => v.stages.includes('AWSPENDING') && !v.stages.includes('AWSCURRENT'),
    );
    if (!file || !pending) return; // already promoted: idempotent
    for (const v of file.versions) {
      v.stages = v.stages.filter((s) => s !== 'AWSPREVIOUS');
      if (v.stages.includes('AWSCURRENT')) v.stages = ['AWSPREVIOUS'];
    }
    pending.stages = ['AWSCURRENT'];
    pending.createdAt = this.clock().toISOString();
    // Keep the current and the previous version only, as Secrets Manager's labelled versions do.
    file.versions = file.versions.filter((v) => v.stages.length > 0);
    this.write(file);
  }

  async scheduleDeletion(name: string, recoveryDays: number): Promise<void> {
    const file = this.read(name);
    if (!file || file.deletedAt) return;
    const now = this.clock();
    file.deletedAt = now.toISOString();
    file.deletionDate = new Date(now.getTime() + recoveryDays * 86_400_000).toISOString();
    this.write(file);
  }

  async randomPassword(): Promise<string> {
    return generatePassword();
  }
}

/** A version's value by stage or id; none from a deleted secret. */
function versionValue(
  file: SecretFile | undefined,
  stage: 'AWSCURRENT' | 'AWSPENDING' | { versionId: string },
): RdsCredentials | undefined {
  if (!file || file.deletedAt) return undefined;
  const version =
    typeof stage === 'object'
      ? file.versions.find((v) => v.id === stage.versionId)
      : file.versions.find(
          (v) => v.stages.includes(stage) && (stage === 'AWSCURRENT' || !v.stages.includes('AWSCURRENT')),
        );
  return version?.value;
}

/** A secret file's metadata, without its values. */
function metaOf(name: string, file: SecretFile | undefined): SecretMeta | undefined {
  if (!file) return undefined;
  const current = file.versions.find((v) => v.stages.includes('AWSCURRENT'));
  return {
    name,
    tags: file.tags,
    changedAt: current ? Math.floor(Date.parse(current.createdAt) / 1000) : undefined,
    hasCurrent: current !== undefined,
    hasPending: file.versions.some(
      (v) => v.stages.includes('AWSPENDING') && !v.stages.includes('AWSCURRENT'),
    ),
    rotationEnabled: false,
    deleted: file.deletedAt !== undefined,
  };
}
