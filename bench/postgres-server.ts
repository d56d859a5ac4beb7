import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A throwaway PostgreSQL server for the bench (the logic of test/helpers/postgres.ts, without tap). */
export interface BenchPostgres {
  /** postgres://postgres:<password>@127.0.0.1:<port>/postgres; the server trusts local connections. */
  url: string;
  /** The major version, e.g. "15". */
  version: string;
  /** The postmaster's pid: its backends are its children, which is how their CPU time is found. */
  serverPid(): number;
  /** Stops the server and deletes its folder; safe to call twice. */
  stop(): Promise<void>;
}

/** The newest Debian PostgreSQL with its binaries, or a failure saying what to install: the section never skips. */
function binaries(): { bin: string; version: string } {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((version) => existsSync(join(root, version, 'bin', 'initdb'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (newest === undefined) {
    throw new Error(
      'PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/initdb. The postgres section needs a server of its own; install the Debian package `postgresql` once, as root: apt-get install postgresql.',
    );
  }
  return { bin: join(root, newest, 'bin'), version: newest };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('could not find a free port for PostgreSQL');
  return address.port;
}

/** Servers still running, for a bench stopped by a signal or its watchdog, which cannot wait for a promise. */
const running = new Map<string, { pgCtl: string[]; dir: string }>();

/** Stops every server this process started, at once (immediate shutdown), and deletes their folders. */
export function stopBenchPostgresNow(): void {
  for (const [dir, { pgCtl }] of running) {
    try {
      execFileSync(pgCtl[0] as string, [...pgCtl.slice(1), 'immediate', '-w', 'stop'], { stdio: 'ignore', timeout: 10_000 });
    } catch {
      // Already stopped; the folder goes anyway.
    }
    rmSync(dir, { recursive: true, force: true });
    running.delete(dir);
  }
}

/**
 * A fresh cluster in a temporary folder on a free port of 127.0.0.1 (and a unix socket in the same folder), with
 * fsync off: the bench measures the service, not the disk. initdb refuses to run as root, so as root the folder
 * belongs to `postgres` and the binaries run as that user.
 */
export async function startBenchPostgres(password = 'bench-postgres-password-1234'): Promise<BenchPostgres> {
  const { bin, version } = binaries();
  const asRoot = userInfo().uid === 0;
  const command = (name: string) => (asRoot ? ['runuser', '-u', 'postgres', '--', join(bin, name)] : [join(bin, name)]);
  const asServer = (name: string, args: string[]) => {
    const [file, ...rest] = command(name);
    return run(file as string, [...rest, ...args]);
  };
  const dir = mkdtempSync(join(tmpdir(), 'bench-postgres-'));
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    running.delete(dir);
    await asServer('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (asRoot) {
      const { stdout: uid } = await run('id', ['-u', 'postgres']);
      const { stdout: gid } = await run('id', ['-g', 'postgres']);
      chownSync(dir, Number(uid.trim()), Number(gid.trim()));
    }
    await asServer('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C']);
    const port = await freePort();
    running.set(dir, { pgCtl: [...command('pg_ctl'), '-D', data, '-m'], dir });
    try {
      await asServer('pg_ctl', ['-D', data, '-l', log, '-w', '-t', '30', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
    } catch (error) {
      const output = existsSync(log) ? readFileSync(log, 'utf8') : '';
      throw new Error(`PostgreSQL ${version} did not start: ${(error as Error).message}\n${output}`);
    }
    return {
      url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
      version,
      serverPid: () => Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
