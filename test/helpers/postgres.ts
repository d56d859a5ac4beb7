import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './server-process.js';

const run = promisify(execFile);

interface TapLike {
  teardown(fn: () => unknown): void;
}

export interface TestPostgres {
  /** postgres://postgres:<password>@127.0.0.1:<port>/postgres; the server trusts every local connection, so any password works. */
  url: string;
  port: number;
  /** Stops the server (fast shutdown: open connections are cut), as a database that goes away would. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
}

/** The newest Debian PostgreSQL with its binaries, or a failure saying what to install: these tests never skip. */
function binaries(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((version) => existsSync(join(root, version, 'bin', 'initdb'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (newest === undefined) {
    throw new Error(
      'PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/initdb. Install the Debian package `postgresql` once, as root: apt-get install postgresql (.ci/run does it when it is missing).',
    );
  }
  return join(root, newest, 'bin');
}

/**
 * A throwaway PostgreSQL server of its own: a fresh cluster in a temporary folder, on a free port of
 * 127.0.0.1 (and a unix socket in the same folder), fsync off. initdb refuses to run as root, so as root
 * the folder belongs to `postgres` and the binaries run as that user. Stopped and deleted on teardown.
 */
export async function startTestPostgres(t: TapLike, password = 'pg-test-password-1234'): Promise<TestPostgres> {
  const bin = binaries();
  const asRoot = userInfo().uid === 0;
  const asServer = (command: string, args: string[]) => (asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, command), ...args]) : run(join(bin, command), args));
  const dir = mkdtempSync(join(tmpdir(), 'postgres-test-'));
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: group } = await run('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(group.trim()));
  }
  const data = join(dir, 'data');
  const port = await freePort();
  let running = false;
  const start = async () => {
    try {
      await asServer('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '30', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
    } catch (error) {
      const log = existsSync(join(dir, 'server.log')) ? readFileSync(join(dir, 'server.log'), 'utf8') : '';
      throw new Error(`PostgreSQL did not start: ${(error as Error).message}\n${log}`);
    }
    running = true;
  };
  const stop = async () => {
    if (!running) return;
    await asServer('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
    running = false;
  };
  t.teardown(async () => {
    await stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  await asServer('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C']);
  await start();
  return { url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`, port, stop, start };
}
