import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

/** Messages a bench child sends to the parent. Every child says `ready` once it listens. */
export type ChildMessage =
  | { type: 'ready'; url: string }
  | {
      type: 'memory';
      peakRss: number;
      rss: number;
      bootRss: number;
      vmHwm: number | null;
      /** Heap still in use after a full collection (null without --expose-gc): what the process really retains. */
      heapAfterGc: number | null;
      samples: number;
    }
  | { type: 'ack' }
  /** Cumulative CPU time of the child, in microseconds. */
  | { type: 'cpu-usage'; user: number; system: number }
  | { type: 'max-in-flight'; maxInFlight: number; inFlight: number }
  /** The child's event-loop delay since the last ask, in milliseconds: how long a ready callback waited. */
  | { type: 'loop-delay'; p50: number; p99: number; max: number };

/** Messages the parent sends to a child. */
export type ParentMessage =
  | { type: 'set-latency'; latencyMs: number }
  /** Asks the fake how many calls it has in flight now, and the most it had at once since the last ask. */
  | { type: 'max-in-flight' }
  | { type: 'memory' }
  | { type: 'cpu-usage' }
  | { type: 'loop-delay' }
  | { type: 'close' };

export type LoopDelay = Omit<Extract<ChildMessage, { type: 'loop-delay' }>, 'type'>;

/**
 * Event-loop delay of this process, reset at each read. A stall here (a GC pause, a long task) shows
 * as latency of every request in flight, so it tells time lost inside a process from time spent
 * waiting for a CPU.
 */
export function loopDelayMonitor(): { read(): LoopDelay } {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  return {
    read() {
      const toMs = (ns: number) => ns / 1e6;
      const delay = { p50: toMs(histogram.percentile(50)), p99: toMs(histogram.percentile(99)), max: toMs(histogram.max) };
      histogram.reset();
      return delay;
    },
  };
}

export interface ForkedProcess {
  readonly url: string;
  readonly pid: number;
  /** CPU time (user + system) the child has used so far, in milliseconds. */
  cpuMs(): Promise<number>;
  /** The child's event-loop delay since the previous call (or its start). */
  loopDelay(): Promise<LoopDelay>;
  request<T extends ChildMessage['type']>(message: ParentMessage, reply: T, timeoutMs?: number): Promise<Extract<ChildMessage, { type: T }>>;
  stop(): Promise<void>;
}

const STARTUP_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const live = new Set<ChildProcess>();

function nextMessage<T extends ChildMessage['type']>(child: ChildProcess, type: T, timeoutMs: number): Promise<Extract<ChildMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`child ${child.pid} sent no '${type}' within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (message: ChildMessage) => {
      if (message.type === type) finish(undefined, message as Extract<ChildMessage, { type: T }>);
    };
    const onExit = (code: number | null) => finish(new Error(`child ${child.pid} exited (code ${code}) before sending '${type}'`));
    function finish(error?: Error, message?: Extract<ChildMessage, { type: T }>) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(message as Extract<ChildMessage, { type: T }>);
    }
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/**
 * Runs an entry point of the bench in its own Node process, so that what it serves never shares an
 * event loop (or a CPU-time budget on the same thread) with the load generator. A .ts entry runs
 * through tsx.
 */
export async function forkNode(entry: URL, env: Record<string, string>, nodeOptions: string[] = []): Promise<ForkedProcess> {
  const path = fileURLToPath(entry);
  const child = fork(path, [], {
    execArgv: [...(path.endsWith('.ts') ? ['--import', 'tsx'] : []), ...nodeOptions],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let ready: Extract<ChildMessage, { type: 'ready' }>;
  try {
    ready = await nextMessage(child, 'ready', STARTUP_TIMEOUT_MS);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }

  const request: ForkedProcess['request'] = (message, reply, timeoutMs = 10_000) => {
    const answer = nextMessage(child, reply, timeoutMs);
    child.send(message);
    return answer;
  };
  return {
    url: ready.url,
    pid: child.pid as number,
    request,
    async cpuMs() {
      const usage = await request({ type: 'cpu-usage' }, 'cpu-usage');
      return (usage.user + usage.system) / 1000;
    },
    async loopDelay() {
      const { type: _type, ...delay } = await request({ type: 'loop-delay' }, 'loop-delay');
      return delay;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.send({ type: 'close' } satisfies ParentMessage);
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Last resort on an unexpected exit of the bench: no child may outlive it. */
export function killForkedProcesses(): void {
  for (const child of live) child.kill('SIGKILL');
}

/** Lets a child obey the parent, and exit when the parent goes away without saying so. */
export function listenToParent(handlers: { onMessage?: (message: ParentMessage) => void; close: () => Promise<void> }): void {
  let closing = false;
  const loopDelay = loopDelayMonitor();
  const close = async () => {
    if (closing) return;
    closing = true;
    await handlers.close();
    if (process.connected) process.disconnect();
    process.exit(0);
  };
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'close') void close();
    else if (message.type === 'cpu-usage') sendToParent({ type: 'cpu-usage', ...process.cpuUsage() });
    else if (message.type === 'loop-delay') sendToParent({ type: 'loop-delay', ...loopDelay.read() });
    else handlers.onMessage?.(message);
  });
  process.on('disconnect', () => void close());
}

export function sendToParent(message: ChildMessage): void {
  process.send?.(message);
}
