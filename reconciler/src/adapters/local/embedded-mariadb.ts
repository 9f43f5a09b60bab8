/**
 * The embedded default: a MariaDB server dbusers starts itself in a folder, bound to 127.0.0.1 on a
 * free port, and stops on exit. Its data stays in the folder, so the next run sees what this one did.
 * The test suite starts its throwaway server the same way.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect } from '../mysql/database.js';

const run = promisify(execFile);

/** A running embedded server. */
export interface EmbeddedServer {
  url: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
}

/** Raised when the server binary is missing or does not come up. */
export class EmbeddedServerError extends Error {
  override name = 'EmbeddedServerError';
}

function findBinary(names: string[]): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/usr/bin'];
  for (const name of names) for (const d of dirs) if (d && existsSync(join(d, name))) return join(d, name);
  return undefined;
}

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Start (initialising on first use) a MariaDB whose data lives in `dir`, with its own temp folder
 * (servers sharing /tmp collide). `extraArgs` are server options for tests (e.g. `--log-bin=...`).
 */
export async function startEmbeddedMariadb(
  dir: string,
  extraArgs: readonly string[] = [],
): Promise<EmbeddedServer> {
  const server = findBinary(['mariadbd', 'mysqld']);
  const installDb = findBinary(['mariadb-install-db', 'mysql_install_db']);
  if (!server || !installDb) {
    throw new EmbeddedServerError(
      "no MariaDB server found (mariadbd): install Debian's mariadb-server, or set DBUSERS_DATABASE_URL to a server of yours",
    );
  }
  const dataDir = join(dir, 'data');
  mkdirSync(dir, { recursive: true });
  const asRoot = process.getuid?.() === 0 ? ['--user=root'] : [];
  const tmp = join(dir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  if (!existsSync(join(dataDir, 'mysql'))) {
    // The bootstrap server's temp folder too (it takes TMPDIR): two bootstraps in /tmp collide.
    await run(
      installDb,
      [
        '--no-defaults',
        `--datadir=${dataDir}`,
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
        ...asRoot,
      ],
      { env: { ...process.env, TMPDIR: tmp } },
    ).catch((cause: Error) => {
      throw new EmbeddedServerError(`initialise MariaDB in ${dataDir}: ${cause.message}`, { cause });
    });
  }
  const port = await freePort();
  const socket = join(dir, 'mariadb.sock');
  const logBin = extraArgs.some((a) => a.startsWith('--log-bin')) ? [] : ['--skip-log-bin'];
  const child: ChildProcess = spawn(
    server,
    [
      '--no-defaults',
      `--datadir=${dataDir}`,
      `--socket=${socket}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--pid-file=${join(dir, 'mariadb.pid')}`,
      `--log-error=${join(dir, 'mariadb.err')}`,
      `--tmpdir=${tmp}`,
      '--innodb-buffer-pool-size=32M',
      ...logBin,
      ...asRoot,
      ...extraArgs,
    ],
    { stdio: 'ignore', detached: false },
  );
  let exited = false;
  child.on('exit', () => (exited = true));
  const url = `mysql://root@127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const db = await connect({ host: '127.0.0.1', port, user: 'root', password: '' }, 2000);
      await db.close();
      break;
    } catch (cause) {
      if (exited || Date.now() > deadline) {
        child.kill('SIGKILL');
        const log = existsSync(join(dir, 'mariadb.err'))
          ? readFileSync(join(dir, 'mariadb.err'), 'utf8').slice(-2000)
          : '';
        throw new EmbeddedServerError(
          `MariaDB in ${dir} did not start: ${(cause as Error).message}\n${log}`,
          { cause },
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return {
    url,
    port,
    dir,
    async stop() {
      if (exited) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([done, new Promise((r) => (timer = setTimeout(r, 20_000)))]);
      clearTimeout(timer); // a pending timer would keep the CLI alive after its work is done
      if (!exited) child.kill('SIGKILL');
    },
  };
}
