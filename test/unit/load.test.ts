import { mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FolderSource } from '../../reconciler/src/adapters/local/folder-source.js';
import { formatDiagnostic, loadDesired, parseOn, secretNameFor } from '../../reconciler/src/desired/load.js';

const INVALID = 'test/fixtures/invalid';

function folder(dir: string): Map<string, string> {
  return new Map(
    readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => [`users/${f}`, readFileSync(join(dir, f), 'utf8')]),
  );
}

describe('loadDesired', () => {
  it('accepts the DESIGN §3 example unchanged', () => {
    const { targets, diagnostics } = loadDesired(
      new Map([['users/payments-prod.yaml', readFileSync('users/payments-prod.yaml', 'utf8')]]),
    );
    expect(diagnostics).toEqual([]);
    expect(targets).toHaveLength(1);
    const accounts = targets[0]!.accounts;
    expect(accounts.map((a) => `${a.kind} ${a.user}@${a.host} ${a.auth}`)).toEqual([
      'user audit_rw@% password',
      'user app_iam@% iam',
      'role reporting@% none',
    ]);
    expect(accounts[0]).toMatchObject({
      secretName: 'rds-orders-audit_rw-secret',
      rotationDays: 30,
      roles: ['reporting'],
      grants: [
        { level: 'database', database: 'audit', privilege: 'DELETE' },
        { level: 'database', database: 'audit', privilege: 'INSERT' },
        { level: 'database', database: 'audit', privilege: 'SELECT' },
        { level: 'database', database: 'audit', privilege: 'UPDATE' },
        { level: 'table', database: 'orders', table: 'invoices', privilege: 'SELECT' },
      ],
    });
  });

  it('accepts every shipped example in users/', () => {
    const files = new Map(
      readdirSync('users')
        .filter((f) => f.endsWith('.yaml'))
        .map((f) => [`users/${f}`, readFileSync(join('users', f), 'utf8')]),
    );
    expect(loadDesired(files).diagnostics).toEqual([]);
  });

  describe.each(readdirSync(INVALID))('invalid case %s', (name) => {
    it('reports exactly the expected diagnostics and no targets', () => {
      const expected = JSON.parse(readFileSync(join(INVALID, name, 'expected.json'), 'utf8')) as unknown[];
      const { targets, diagnostics } = loadDesired(folder(join(INVALID, name)));
      expect(expected.length).toBeGreaterThan(0);
      expect(targets).toEqual([]);
      expect(diagnostics.map(({ file, line, col, code }) => ({ file, line, col, code }))).toEqual(expected);
      for (const d of diagnostics) expect(d.message.length).toBeGreaterThan(10);
    });
  });

  it('reports every problem in every file at once', () => {
    const all = new Map<string, string>();
    for (const name of ['schema', 'references', 'engines']) {
      for (const [f, text] of folder(join(INVALID, name)))
        all.set(f.replace('users/', `users/${name}/`), text);
    }
    const { diagnostics } = loadDesired(all);
    expect(new Set(diagnostics.map((d) => d.file)).size).toBe(3);
  });

  it('formats a diagnostic as file:line:col CODE message with a caret under the column', () => {
    const files = folder(join(INVALID, 'schema'));
    const d = loadDesired(files).diagnostics.find((x) => x.message.includes('pasword'))!;
    expect(formatDiagnostic(d, files.get(d.file))).toBe(
      'users/shop-dev.yaml:14:11 SCHEMA users[0].auth: got "pasword"; allowed: "password", "iam"\n' +
        '      auth: pasword\n' +
        '            ^',
    );
  });

  it("reports a file nested too deep to parse at its place, in the reader's terms", () => {
    const text = `account: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`;
    const { diagnostics } = loadDesired(new Map([['users/deep.yaml', text]]));
    expect(diagnostics.map((d) => [d.code, d.line, d.message])).toEqual([
      [
        'YAML_SYNTAX',
        1,
        'the YAML nests too deep to read (lists or maps inside each other thousands of times)',
      ],
    ]);
  });

  it('prints the excerpt of a line holding a terminal escape as text', () => {
    const text = 'account: "111122223333"\nalias: x\u001b]0;pwned\u0007\nclusters: 7\n';
    const d = loadDesired(new Map([['users/x.yaml', text]])).diagnostics.find((x) => x.line === 2)!;
    const shown = formatDiagnostic(d, text);
    expect(shown).toContain('alias: x\\u001b]0;pwned\\u0007');
    expect(shown).not.toMatch(/[\u001b\u0007]/);
  });
});

describe('parseOn', () => {
  it.each([
    ['*.*', { level: 'global' }],
    ['audit.*', { level: 'database', database: 'audit' }],
    ['orders.invoices', { level: 'table', database: 'orders', table: 'invoices' }],
    ['`my.db`.`we``ird`', { level: 'table', database: 'my.db', table: 'we`ird' }],
    [
      'PROCEDURE orders.refund',
      { level: 'routine', database: 'orders', routine: 'refund', routineType: 'PROCEDURE' },
    ],
    ['function `a b`.f', { level: 'routine', database: 'a b', routine: 'f', routineType: 'FUNCTION' }],
    // Quoted, `*` is a name like any other, as the server reads it.
    ['`*`.*', { level: 'database', database: '*' }],
    ['app.`*`', { level: 'table', database: 'app', table: '*' }],
    ['PROCEDURE app.`*`', { level: 'routine', database: 'app', routine: '*', routineType: 'PROCEDURE' }],
    ['`*`.`*`', { level: 'table', database: '*', table: '*' }],
  ])('reads %s', (on, expected) => {
    expect(parseOn(on)).toEqual(expected);
  });
  it.each(['orders', '*.invoices', '*.`*`', '`open.x', 'a.b.c', 'PROCEDURE orders.*'])(
    'refuses %s with a reason',
    (on) => {
      expect(typeof parseOn(on)).toBe('string');
    },
  );
});

describe('secretNameFor', () => {
  it('fills the template and keeps the host to characters a secret name allows', () => {
    const values = {
      account: '1',
      alias: 'a',
      cluster: 'orders',
      user: 'app',
      host: '10.0.%',
      database: 'db',
    };
    expect(secretNameFor('rds-{cluster}-{user}-secret', values)).toBe('rds-orders-app-secret');
    expect(secretNameFor('rds-{database}-{user}-secret', values)).toBe('rds-db-app-secret');
    expect(secretNameFor('{alias}/{cluster}/{user}@{host}', values)).toBe('a/orders/app@10.0.any');
  });

  it('stores hosts in lower case, as the server does', () => {
    const yaml = readFileSync('users/payments-prod.yaml', 'utf8').replace(
      'host: "%"',
      'host: "%.Corp.Example.COM"',
    );
    const { targets, diagnostics } = loadDesired(new Map([['users/payments-prod.yaml', yaml]]));
    expect(diagnostics).toEqual([]);
    expect(targets[0]!.accounts[0]).toMatchObject({ user: 'audit_rw', host: '%.corp.example.com' });
  });

  it('carries onDigestMismatch to the cluster, and refuses a value it does not know', () => {
    const yaml = (v: string) =>
      new Map([
        [
          'users/payments-prod.yaml',
          `${readFileSync('users/payments-prod.yaml', 'utf8')}onDigestMismatch: ${v}\n`,
        ],
      ]);
    expect(loadDesired(yaml('refuse')).targets[0]!.cluster.onDigestMismatch).toBe('refuse');
    expect(
      loadDesired(new Map([['users/payments-prod.yaml', readFileSync('users/payments-prod.yaml', 'utf8')]]))
        .targets[0]!.cluster.onDigestMismatch,
    ).toBeUndefined();
    expect(loadDesired(yaml('ignore')).diagnostics.map((d) => d.code)).toEqual(['SCHEMA']);
  });

  it('carries privilege exceptions to the cluster, so the plan can show them', () => {
    const yaml = readFileSync('users/payments-prod.yaml', 'utf8')
      .replace(
        'clusters:',
        'privilegeExceptions:\n  - { account: "audit_rw@%", on: "*.*", privileges: [PROCESS], reason: "reviewed in CHG-1234" }\nclusters:',
      )
      .replace(
        '- { on: "orders.invoices", privileges: [SELECT] }',
        '- { on: "orders.invoices", privileges: [SELECT] }\n      - { on: "*.*", privileges: [PROCESS] }',
      );
    const { targets, diagnostics } = loadDesired(new Map([['users/payments-prod.yaml', yaml]]));
    expect(diagnostics).toEqual([]);
    expect(targets[0]!.cluster.privilegeExceptions).toEqual([
      {
        user: 'audit_rw',
        host: '%',
        target: { level: 'global' },
        privileges: ['PROCESS'],
        reason: 'reviewed in CHG-1234',
      },
    ]);
  });

  it('lets an exception name a MariaDB privilege by either of its names', () => {
    // MariaDB grants REPLICATION CLIENT as BINLOG MONITOR; the grant is compared on the stored name.
    const yaml = readFileSync('users/shop-staging.yaml', 'utf8')
      .replace(
        'clusters:',
        'privilegeExceptions:\n  - { account: "catalog_api@%", on: "*.*", privileges: [REPLICATION CLIENT], reason: "replication monitor, OPS-1" }\nclusters:',
      )
      .replace(
        '      - { database: catalog, profile: readwrite }\n    rotationDays: 30',
        '      - { database: catalog, profile: readwrite }\n      - { on: "*.*", privileges: [REPLICATION CLIENT] }\n    rotationDays: 30',
      );
    const { targets, diagnostics } = loadDesired(new Map([['users/shop-staging.yaml', yaml]]));
    expect(diagnostics).toEqual([]);
    expect(targets[0]!.cluster.privilegeExceptions![0]!.privileges).toEqual([
      'REPLICATION CLIENT',
      'BINLOG MONITOR',
    ]);
    const api = targets[0]!.accounts.find((a) => a.user === 'catalog_api')!;
    expect(api.grants).toContainEqual({ level: 'global', privilege: 'BINLOG MONITOR' });
  });
});

describe('reading the users folder', () => {
  const read = async (dir: string) => {
    const source = new FolderSource(dir);
    const files = await source.readTree();
    return {
      files,
      ignored: source.ignored,
      diagnostics: loadDesired(files, source.folder).diagnostics.map(
        (d) => `${d.file}:${d.line}:${d.col} ${d.code}`,
      ),
    };
  };

  it('reports a dangling symlink, a symlink loop, a non-UTF-8 file and an alias bomb, each at 1:1, never a stack trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dbusers-folder-'));
    symlinkSync(join(dir, 'nowhere.yaml'), join(dir, 'dangling.yaml'));
    symlinkSync(join(dir, 'loop-b.yaml'), join(dir, 'loop-a.yaml'));
    symlinkSync(join(dir, 'loop-a.yaml'), join(dir, 'loop-b.yaml'));
    writeFileSync(join(dir, 'latin1.yaml'), Buffer.from('account: "caf\xe9"\n', 'latin1'));
    const laugh = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      ...'bcdefg'.split('').map((k, i) => `${k}: &${k} [${Array(10).fill(`*${'abcdefg'[i]}`).join(', ')}]`),
    ];
    writeFileSync(join(dir, 'bomb.yaml'), laugh.join('\n') + '\n');
    symlinkSync(dir, join(dir, 'self')); // a folder that contains itself: read once
    const { diagnostics } = await read(dir);
    const rel = (f: string) => relative(process.cwd(), join(dir, f));
    expect(diagnostics).toEqual([
      `${rel('bomb.yaml')}:1:1 YAML_SYNTAX`,
      `${rel('dangling.yaml')}:1:1 FILE`,
      `${rel('latin1.yaml')}:1:1 ENCODING`,
      `${rel('loop-a.yaml')}:1:1 FILE`,
      `${rel('loop-b.yaml')}:1:1 FILE`,
    ]);
  });

  it('says that an empty folder holds no account file, and names files it does not read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dbusers-folder-'));
    writeFileSync(join(dir, 'payments-prod.yalm'), 'account: "111122223333"\n');
    const { diagnostics, ignored } = await read(dir);
    expect(diagnostics).toEqual([`${relative(process.cwd(), dir)}/:1:1 FILE`]);
    expect(ignored).toEqual([relative(process.cwd(), join(dir, 'payments-prod.yalm'))]);
  });

  it('reads one file given by name, from any directory', async () => {
    const { files, diagnostics } = await read(join(process.cwd(), 'users', 'payments-prod.yaml'));
    expect([...files.keys()]).toEqual([join('users', 'payments-prod.yaml')]);
    expect(diagnostics).toEqual([]);
  });
});

describe('users.schema.json', () => {
  it('describes every property, so editors show help while typing', () => {
    const schema = JSON.parse(readFileSync('schemas/users.schema.json', 'utf8'));
    const undescribed: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (!node || typeof node !== 'object') return;
      const o = node as Record<string, unknown>;
      for (const [k, v] of Object.entries((o.properties ?? {}) as Record<string, Record<string, unknown>>)) {
        if (!v.description) undescribed.push(`${path}.${k}`);
        walk(v, `${path}.${k}`);
      }
      for (const k of ['items', 'additionalProperties']) walk(o[k], `${path}.${k}`);
      for (const v of (o.anyOf ?? []) as unknown[]) walk(v, path);
    };
    walk(schema, '');
    for (const [k, v] of Object.entries(schema.$defs as Record<string, unknown>)) walk(v, `$defs.${k}`);
    expect(undescribed).toEqual([]);
  });
});
