import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnvSchema } from '../../src/config.js';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const inheritedEnv = () =>
  Object.fromEntries(Object.entries(process.env).filter(([name]) => !(name in EnvSchema.shape) && !name.startsWith('OPENAI_')));

/**
 * `npm start` as a real process, for tests of what only a process shows (exit codes, signals, crashes).
 * `launcher` is a command the server is started through (its last arguments are the server's command line).
 */
export function startServerProcess(env: Record<string, string>, launcher: string[] = []) {
  // The test's own loader (process.execArgv), so the child's coverage maps onto the same compiled source.
  const [command = process.execPath, ...args] = [...launcher, process.execPath, ...process.execArgv, 'src/server.ts'];
  const child = spawn(command, args, {
    // tap's own variables are kept (its loader reads them); the service's settings come only from the test.
    env: { ...inheritedEnv(), LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const listening = new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (output.includes('Server listening')) {
        clearInterval(timer);
        resolve();
      }
    }, 20);
    void exited.then(() => {
      clearInterval(timer);
      reject(new Error(`server exited: ${output}`));
    });
  });
  listening.catch(() => undefined); // a test that expects the process to fail never awaits it
  return { child, exited, listening, output: () => output };
}


/** The promise, or a rejection naming what did not happen in time. */
export const within = <T>(promise: Promise<T>, ms: number, what: string) =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms).unref())]);

interface TapLike {
  teardown(fn: () => unknown): void;
}

/**
 * The service as a process on a free port with a reports folder of its own, stopped and removed on
 * teardown, and the two calls a browser test makes before it opens a page: start a run, wait for its end.
 * With SERVICE_API_KEYS the first key is the one the calls use.
 */
export async function startTestService(t: TapLike, env: Record<string, string>) {
  const reportsDir = mkdtempSync(join(tmpdir(), 'reports-service-'));
  t.teardown(() => rmSync(reportsDir, { recursive: true, force: true }));
  const port = await freePort();
  const server = startServerProcess({ PORT: String(port), HOST: '127.0.0.1', OPENAI_API_KEY: '', REPORTS_DIR: reportsDir, RATE_LIMIT_MAX: '0', ...env });
  t.teardown(async () => {
    // SIGTERM lets the process close gracefully and write its coverage; SIGKILL if it does not.
    server.child.kill('SIGTERM');
    await within(server.exited, 15_000, 'server exit').catch(() => server.child.kill('SIGKILL'));
  });
  await within(server.listening, 60_000, 'server start');
  const base = `http://127.0.0.1:${port}`;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const key = env.SERVICE_API_KEYS?.split(',')[0]?.replace(/^[^:]*:/, '').trim();
  if (key) headers.authorization = `Bearer ${key}`;
  const getJson = async (path: string) => {
    const reply = await fetch(`${base}${path}`, { headers });
    if (!reply.ok) throw new Error(`GET ${path}: ${reply.status} ${await reply.text()}`);
    return reply.json() as Promise<any>;
  };
  return {
    base,
    child: server.child,
    output: server.output,
    getJson,
    async startRun(body: object): Promise<string> {
      const reply = await fetch(`${base}/evaluate`, { method: 'POST', headers, body: JSON.stringify(body) });
      if (reply.status !== 202) throw new Error(`POST /evaluate: ${reply.status} ${await reply.text()}`);
      return ((await reply.json()) as { run_id: string }).run_id;
    },
    async startRescore(runId: string, body: object): Promise<string> {
      const reply = await fetch(`${base}/evaluate/${runId}/rescore`, { method: 'POST', headers, body: JSON.stringify(body) });
      if (reply.status !== 202) throw new Error(`POST /evaluate/${runId}/rescore: ${reply.status} ${await reply.text()}`);
      return ((await reply.json()) as { run_id: string }).run_id;
    },
    async waitForEnd(runId: string) {
      for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 100))) {
        const run = (await getJson(`/evaluate/${runId}`)) as { status: string };
        if (!['queued', 'running'].includes(run.status)) return run;
      }
      throw new Error(`run ${runId} did not end`);
    },
  };
}


/**
 * Starts the server with `dir` on a tmpfs of `bytes` of its own: a real filesystem that really fills up.
 * The mount lives in a private mount namespace (unshare as a mapped root user, no privileges needed), so
 * it goes when the process does; the test reaches it through /proc/<pid>/root.
 */
export function startServerOnSmallDisk(env: Record<string, string>, dir: string, bytes: number) {
  const script = 'mount -t tmpfs -o "size=$1" tmpfs "$2" && shift 2 && exec "$@"';
  const server = startServerProcess(env, ['unshare', '--user', '--map-root-user', '--mount', 'sh', '-c', script, 'sh', String(bytes), dir]);
  return { ...server, seen: (path: string) => `/proc/${server.child.pid}/root${path}` };
}
