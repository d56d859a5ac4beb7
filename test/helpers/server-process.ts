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

/** `npm start` as a real process, for tests of what only a process shows (exit codes, signals, crashes). */
export function startServerProcess(env: Record<string, string>) {
  // The test's own loader (process.execArgv), so the child's coverage maps onto the same compiled source.
  const child = spawn(process.execPath, [...process.execArgv, 'src/server.ts'], {
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

