/**
 * The CLI as a new user meets it, on a real MariaDB: the target is always the one meant (a broken
 * endpoint or a missing master secret is an error, never the embedded server), selections that
 * match nothing are errors, machine output is valid alone on stdout, help and versions, refusals as
 * one block, progress per action; and in a real pseudo-terminal (util-linux `script`): colours,
 * the prompt, and Ctrl-C saying what was done.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDatabaseUrl } from '../../reconciler/src/adapters/mysql/database.js';
import { FolderSource } from '../../reconciler/src/adapters/local/folder-source.js';
import { LocalEnvironment } from '../../reconciler/src/adapters/local/local-dispatcher.js';
import { putMaster } from '../../reconciler/src/cli/commands.js';
import { main } from '../../reconciler/src/cli/main.js';
import { cli, exampleWorkspace } from '../support/cli.js';
import { createExampleSchema, startTestServer, tempDir, type TestServer } from '../support/server.js';

let server: TestServer;
let work: string;
const users = () => join(work, 'users');

beforeAll(async () => {
  server = await startTestServer();
  const admin = await server.admin();
  await createExampleSchema(admin);
  await admin.close();
  work = exampleWorkspace();
});

afterAll(async () => {
  await server?.stop();
});

/** The CLI in-process with its environment for this test only. */
async function withEnv(env: Record<string, string | undefined>, ...argv: string[]) {
  const saved = { ...process.env };
  Object.assign(
    process.env,
    { DBUSERS_STATE_DIR: join(work, 'state'), DBUSERS_DATABASE_URL: server.url },
    env,
  );
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k];
  try {
    return await cli(...argv);
  } finally {
    process.env = saved;
  }
}

/** Run the real CLI in a pseudo-terminal; `keys` are typed once the output matches `when`. */
function inTerminal(
  args: string,
  env: Record<string, string>,
  keys?: { when: RegExp; send: string },
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('script', ['-qefc', `node bin/dbusers.js ${args}`, '/dev/null'], {
      env: { ...process.env, ...env, TERM: 'xterm' },
    });
    let out = '';
    let sent = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (keys && !sent && keys.when.test(out)) {
        sent = true;
        child.stdin.write(keys.send);
      }
    });
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('the target is the one meant', () => {
  it('fails, naming DNS, when the cluster has a master secret but its endpoint does not resolve; never the embedded server', async () => {
    const state = join(tempDir(), 'state');
    const put = await withEnv(
      { DBUSERS_STATE_DIR: state, DBUSERS_MASTER_USERNAME: 'admin', DBUSERS_MASTER_PASSWORD: 'pw' },
      'secret',
      'put-master',
      users(),
      '--cluster',
      'orders',
      '--from-env',
    );
    expect(put.code).toBe(0);
    const r = await withEnv(
      { DBUSERS_STATE_DIR: state, DBUSERS_DATABASE_URL: undefined },
      'plan',
      users(),
      '--markdown',
    );
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /connect to orders\.cluster-abc\.eu-west-1\.rds\.amazonaws\.com:3306 as 'admin': DNS: the host name does not resolve/,
    );
    expect(r.err).not.toMatch(/embedded/);
    expect(r.out).toBe('');
  });

  it('refuses master credentials on stdin that are not JSON without quoting them back', async () => {
    const env = new LocalEnvironment({ stateDir: join(tempDir(), 'state'), log: () => undefined });
    const err: string[] = [];
    const io = { out: () => undefined, err: (s: string) => void err.push(s) };
    const put = putMaster(
      new FolderSource(users()),
      env,
      'orders',
      false,
      // Unquoted: JSON.parse's own message would quote it back (`..."assword": s3cret}" is not valid JSON`).
      async () => '{"username": "admin", "password": s3cret}',
      io,
    );
    await expect(put).rejects.toThrow(/stdin is not the master secret's JSON .*what it held is not shown/);
    await expect(put).rejects.not.toThrow(/s3cret/);
    expect(err.join('')).not.toContain('s3cret');
    await env.close();
  });

  it('fails, naming the missing secret, when the master secret has no current value', async () => {
    const state = join(tempDir(), 'state');
    mkdirSync(join(state, 'secrets', '111122223333'), { recursive: true });
    const name = encodeURIComponent('arn:aws:secretsmanager:eu-west-1:111122223333:secret:orders-master');
    writeFileSync(
      join(state, 'secrets', '111122223333', `${name}.json`),
      JSON.stringify({ name: 'x', description: '', tags: {}, createdAt: '', versions: [] }),
    );
    const r = await withEnv({ DBUSERS_STATE_DIR: state, DBUSERS_DATABASE_URL: undefined }, 'plan', users());
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /has no current username and password \(missing secret\); write it with dbusers secret put-master --cluster orders/,
    );
  });

  it('names the server it inspected in text, Markdown and JSON', async () => {
    const host = `${server.spec.host}:${server.spec.port}`;
    expect((await withEnv({}, 'plan', users())).out).toContain(
      `cluster payments-prod/orders (account 111122223333, ${host}):`,
    );
    expect((await withEnv({}, 'plan', users(), '--markdown')).out).toContain(host);
    expect(JSON.parse((await withEnv({}, 'plan', users(), '--json')).out).plans[0].server).toBe(host);
  });

  it('uses TLS, verified, for every server but this machine', () => {
    expect(parseDatabaseUrl('mysql://u:p@127.0.0.1:3306').ssl).toBeUndefined();
    expect(parseDatabaseUrl('mysql://u:p@db.example.com:3306').ssl).toMatchObject({
      rejectUnauthorized: true,
    });
    expect(parseDatabaseUrl('mysql://u:p@db.example.com:3306?ssl=off').ssl).toBeUndefined();
    expect(parseDatabaseUrl('mysql://u:p@db.example.com:3306?ssl=insecure').ssl).toEqual({
      rejectUnauthorized: false,
    });
    expect(() => parseDatabaseUrl('mysql://u:p@db.example.com?ssl=maybe')).toThrow(
      /ssl=maybe is not one of off, insecure, verify/,
    );
  });

  it('refuses a malformed DBUSERS_DATABASE_URL saying how to write it, never echoing it (it may hold a password)', () => {
    for (const url of [
      's3cret-not-a-url',
      'mysql://root:s3cret%zz@db.example.com',
      'mysql://s3cret%E0%A4%A@db',
    ]) {
      const error = (() => {
        try {
          parseDatabaseUrl(url);
        } catch (e) {
          return e as Error;
        }
      })();
      expect(error?.message).toMatch(
        /^DBUSERS_DATABASE_URL is not a valid URL; write mysql:\/\/user:password@host:port/,
      );
      expect(error?.message).not.toContain('s3cret');
    }
  });
});

describe('one target failing never stops the others', () => {
  it('plans and applies the reachable cluster, names the one that failed, and exits 1', async () => {
    const state = join(tempDir(), 'state');
    const dir = join(tempDir(), 'users');
    mkdirSync(dir);
    const file = (
      account: string,
      alias: string,
      cluster: string,
      endpoint: string,
      port: number,
    ) => `account: "${account}"
alias: ${alias}
clusters:
  - { name: ${cluster}, region: eu-west-1, engine: mariadb, endpoint: ${endpoint}, port: ${port}, masterSecretArn: "arn:aws:secretsmanager:eu-west-1:${account}:secret:m", databases: [orders] }
users:
  - { name: isolated_${cluster}, cluster: ${cluster}, grants: [{ database: orders, profile: readonly }] }
`;
    writeFileSync(
      join(dir, 'good.yaml'),
      file('777788889999', 'good', 'fine', server.spec.host, server.spec.port),
    );
    writeFileSync(join(dir, 'bad.yaml'), file('777788880000', 'bad', 'gone', 'nosuch.invalid', 3306));
    const env = { DBUSERS_STATE_DIR: state, DBUSERS_DATABASE_URL: undefined };
    for (const [cluster, user, password] of [
      ['fine', server.spec.user, server.spec.password],
      ['gone', 'x', 'y'],
    ] as const) {
      const put = await withEnv(
        { ...env, DBUSERS_MASTER_USERNAME: user, DBUSERS_MASTER_PASSWORD: password },
        'secret',
        'put-master',
        dir,
        '--cluster',
        cluster,
        '--from-env',
      );
      expect(put.code, put.err).toBe(0);
    }
    const plan = await withEnv(env, 'plan', dir);
    expect(plan.code).toBe(1);
    expect(plan.out).toContain("+ create user 'isolated_fine'@'%'");
    expect(plan.err).toMatch(/bad\/gone: inspect failed: connect to nosuch\.invalid:3306 as 'x': DNS/);
    const apply = await withEnv(env, 'apply', dir, '--yes');
    expect(apply.code).toBe(1);
    const admin = await server.admin();
    expect(await admin.query("SELECT User FROM mysql.global_priv WHERE User = 'isolated_fine'")).toHaveLength(
      1,
    );
    await admin.close();
  });
});

describe('selections that match nothing are errors', () => {
  it.each([
    [['plan', '--cluster', 'order'], /--cluster order: no such cluster; did you mean orders\?/],
    [
      ['drift', '--cluster', 'nosuch'],
      /--cluster nosuch: no such cluster \(declared: payments-prod\/orders\)/,
    ],
    [
      ['plan', '--reset', 'audit_rx@%'],
      /--reset audit_rx@%: no declared password user is named so; did you mean audit_rw@%\?/,
    ],
    [['import', '--cluster', 'ordrs'], /import: no cluster ordrs; did you mean orders\?/],
  ])('%j exits 1 and says so', async (argv, message) => {
    const r = await withEnv({}, ...argv.slice(0, 1), users(), ...argv.slice(1));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(message);
    expect(r.out).not.toMatch(/0 to create, 0 to change, 0 to delete/);
  });

  it.each(['validate', 'plan', 'apply'])(
    '%s of a folder holding no account file names that folder and the file it skipped, and exits 1',
    async (command) => {
      const typo = join(work, `typo-${command}`);
      mkdirSync(typo);
      writeFileSync(join(typo, 'payments-prod.yalm'), readFileSync(join(users(), 'payments-prod.yaml')));
      const r = await withEnv({}, command, typo, ...(command === 'apply' ? ['--yes'] : []));
      expect(r.code).toBe(1);
      const shown = relative(process.cwd(), typo);
      expect(r.err).toContain(
        `dbusers: warning: ${join(shown, 'payments-prod.yalm')} is not read: account files end in .yaml or .yml\n`,
      );
      expect(r.err).toContain(`${shown}/:1:1 FILE no account file (<alias>.yaml) was found`);
      expect(r.out).toBe('');
    },
  );
});

describe('a CLI built on commander', () => {
  it('answers --version, help CMD and CMD --help, and suggests the command meant', async () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect((await cli('--version')).out.trim()).toBe(pkg.version);
    const help = await cli('help', 'plan');
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/Usage: dbusers plan \[options\] \[dir\]/);
    expect((await cli('apply', '--help')).out).toMatch(/-y, --yes +apply without asking/);
    const typo = await cli('plna');
    expect(typo.code).toBe(1);
    expect(typo.err).toMatch(/Did you mean plan\?/);
  });

  it('refuses --json with --markdown', async () => {
    const r = await cli('plan', users(), '--json', '--markdown');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/option '--json' cannot be used with option '--markdown/);
  });

  it('validates from another directory and a single file, without a stack trace', async () => {
    const r = await cli('validate', join(process.cwd(), 'users', 'payments-prod.yaml'));
    expect(r.code).toBe(0);
    const missing = await cli('validate', join(work, 'nowhere'));
    expect(missing.code).toBe(1);
    expect(missing.err).toContain(
      `${relative(process.cwd(), join(work, 'nowhere'))}:1:1 FILE no such file or folder; check the path`,
    );
    expect(missing.err).not.toMatch(/\n\s+at /);
  });
});

describe('output like terraform plan', () => {
  it('apply --yes --json prints only JSON on stdout; the plan and progress go to stderr', async () => {
    const r = await withEnv(
      { DBUSERS_STATE_DIR: join(tempDir(), 'state') },
      'apply',
      users(),
      '--yes',
      '--json',
    );
    expect(r.code).toBe(0);
    const parsed = JSON.parse(r.out) as { status: string; results: unknown[] };
    expect(parsed.status).toBe('applied');
    expect(r.err).toMatch(/\[1\/3\] done: create_role 'reporting'/);
    expect(r.err).toMatch(/\[3\/3\] done: create_user/);
  });

  it('reports the delete limit as one block with the count and how to proceed, never as "no changes"', async () => {
    const state = join(tempDir(), 'state');
    const dir = join(tempDir(), 'users');
    mkdirSync(dir);
    const many = Array.from(
      { length: 30 },
      (_, i) => `  - { name: bulk${i}, cluster: orders, grants: [{ database: orders, profile: readonly }] }`,
    ).join('\n');
    const base = readFileSync('users/payments-prod.yaml', 'utf8').replace(/users:[\s\S]*$/, 'users:\n');
    writeFileSync(join(dir, 'payments-prod.yaml'), `${base}${many}\n`);
    expect((await withEnv({ DBUSERS_STATE_DIR: state }, 'apply', dir, '--yes')).code).toBe(0);
    writeFileSync(
      join(dir, 'payments-prod.yaml'),
      `${base}  - { name: bulk0, cluster: orders, grants: [{ database: orders, profile: readonly }] }\n`,
    );
    const r = await withEnv({ DBUSERS_STATE_DIR: state }, 'plan', dir);
    expect(r.code).toBe(1);
    expect(r.out).not.toMatch(/no changes: the server matches the YAML/);
    expect(r.err).toMatch(
      /over delete limit: 29 account\(s\): 'bulk10'@'%' \(payments-prod\/orders\), .* and 24 more\n.*the plan deletes 29 of 3[01] managed accounts/,
    );
    expect(r.err).toMatch(/to proceed: run again with --allow-deletes/);
    expect(r.err.split('\n').length).toBeLessThan(10);
  });

  it('writes no colour where the output is not a terminal, or NO_COLOR is set', async () => {
    const plain = await withEnv({}, 'plan', users());
    expect(plain.out).not.toMatch(/\x1b\[/);
    let out = '';
    const code = await main(['plan', users()], {
      out: (s) => void (out += s),
      err: () => undefined,
      color: true,
    });
    expect(code).toBe(2);
    expect(out).toMatch(/\x1b\[32m {2}\+ create/);
    const saved = process.env.NO_COLOR;
    process.env.NO_COLOR = '1';
    let none = '';
    await main(['plan', users()], { out: (s) => void (none += s), err: () => undefined, color: true });
    if (saved === undefined) delete process.env.NO_COLOR;
    else process.env.NO_COLOR = saved;
    expect(none).not.toMatch(/\x1b\[/);
  });
});

describe('in a real terminal', () => {
  const env = () => ({ DBUSERS_DATABASE_URL: server.url, DBUSERS_STATE_DIR: join(tempDir(), 'state') });

  /** A users folder of its own: `count` new users, no role. */
  const fresh = (prefix: string, count: number) => {
    const dir = join(tempDir(), 'users');
    mkdirSync(dir);
    const list = Array.from(
      { length: count },
      (_, i) =>
        `  - { name: ${prefix}${i}, cluster: orders, grants: [{ database: orders, profile: readonly }] }`,
    ).join('\n');
    writeFileSync(
      join(dir, 'payments-prod.yaml'),
      readFileSync('users/payments-prod.yaml', 'utf8').replace(/roles:[\s\S]*$/, `users:\n${list}\n`),
    );
    return dir;
  };

  it('colours the plan, asks before applying, and changes nothing on "no"', async () => {
    const r = await inTerminal(`apply ${fresh('asked', 2)}`, env(), {
      when: /Only 'yes' is accepted: /,
      send: 'no\n',
    });
    expect(r.out).toMatch(/\x1b\[32m {2}\+ create user 'asked0'@'%'/);
    expect(r.out).toMatch(/Apply cancelled; nothing was changed\./);
    expect(r.code).toBe(1);
  });

  it('says, on Ctrl-C, how far the apply got and that the next run finishes it', async () => {
    const r = await inTerminal(`apply ${fresh('ctrlc', 400)} --yes`, env(), {
      when: /\[\d+\/400\] .*\/s, about/,
      send: '\x03',
    });
    expect(r.out).toMatch(
      /interrupted after \d+ of 400 action\(s\)\. .*run the same apply again and it finishes the rest/s,
    );
    expect(r.code).toBe(130);
  });
});
