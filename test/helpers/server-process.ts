import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
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
