import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { Pool } from 'undici';
import { summarizeLatencies, type LatencySummary } from './stats.js';

export interface Target {
  /** Origin only, e.g. http://127.0.0.1:3000; the load generator must never aim anywhere but loopback. */
  origin: string;
  path: string;
  body: string;
  headers: Record<string, string>;
}

export interface LoadResult {
  /** 2xx replies per second of the run. */
  throughput: number;
  ok: number;
  /** Replies that were not 2xx, plus connection errors and timeouts: any of them makes the latencies suspect. */
  failed: number;
  /** What the failures were: a status code, or `error` for a connection error or timeout. */
  failures: Record<string, number>;
  /** Latencies of the 2xx replies, with sub-millisecond resolution. */
  latency: LatencySummary;
  /** The same latencies, unsorted, so that rounds can be pooled. */
  latencies: number[];
}

const countFailure = (failures: Record<string, number>, kind: string) => {
  failures[kind] = (failures[kind] ?? 0) + 1;
};
const totalFailures = (failures: Record<string, number>) => Object.values(failures).reduce((sum, value) => sum + value, 0);

function loadResult(latencies: number[], failures: Record<string, number>, elapsedSeconds: number): LoadResult {
  return {
    throughput: latencies.length / elapsedSeconds,
    ok: latencies.length,
    failed: totalFailures(failures),
    failures,
    latency: summarizeLatencies(latencies),
    latencies,
  };
}

/** "0", or e.g. "503 × 1,204, error × 3". */
export function describeFailures(result: LoadResult): string {
  const kinds = Object.entries(result.failures);
  return kinds.length === 0 ? '0' : kinds.map(([kind, times]) => `${kind} × ${times.toLocaleString('en-US')}`).join(', ');
}

function assertLoopback(origin: string): void {
  const { hostname } = new URL(origin);
  if (hostname !== '127.0.0.1') throw new Error(`refusing to send load to ${origin}: only 127.0.0.1 is allowed`);
}

export interface AutocannonOptions {
  connections: number;
  durationSeconds: number;
  /** Requests per second over all connections; unset runs unthrottled. */
  overallRate?: number;
}

/**
 * autocannon in this process, which is neither the service's nor the upstream's. Latencies come from
 * its per-response event in fractional milliseconds: its own histogram keeps whole milliseconds,
 * too coarse for a 2 ms budget. Its coordinated-omission correction is off because with a rate it
 * assumes a 1 ms expected interval whatever the rate, which fills the histogram with invented samples.
 */
export async function runAutocannon(target: Target, options: AutocannonOptions): Promise<LoadResult> {
  assertLoopback(target.origin);
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  const started = performance.now();
  let finish: (error: Error | null, result: autocannon.Result) => void = () => undefined;
  const finished = new Promise<autocannon.Result>((resolve, reject) => {
    finish = (error, result) => (error ? reject(error) : resolve(result));
  });
  const instance = autocannon(
    {
      url: `${target.origin}${target.path}`,
      method: 'POST',
      headers: target.headers,
      body: target.body,
      connections: options.connections,
      duration: options.durationSeconds,
      ...(options.overallRate === undefined ? {} : { overallRate: options.overallRate, ignoreCoordinatedOmission: true }),
      timeout: 10,
    },
    (error, result) => finish(error, result),
  );
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    else countFailure(failures, String(statusCode));
  });
  const result = await finished;
  const errors = result.errors + result.timeouts;
  if (errors > 0) failures.error = errors;
  const elapsedSeconds = (performance.now() - started) / 1000;
  return loadResult(latencies, failures, elapsedSeconds);
}

export interface PacedOptions {
  /** Requests per second, sent evenly: one every 1000/rate ms, whatever the replies do. */
  rate: number;
  connections: number;
  durationSeconds: number;
}

/**
 * An open-loop load at an even rate. autocannon's rate limit sends each connection's quota for the
 * second back to back and then idles, so "1,000 requests/s" there is a burst at full speed every
 * second; this is the steady 1,000 requests/s a budget like "added p99 at 1,000 requests/s" means.
 */
export async function runPaced(target: Target, options: PacedOptions): Promise<LoadResult> {
  assertLoopback(target.origin);
  const pool = new Pool(target.origin, { connections: options.connections, pipelining: 1 });
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  const inFlight = new Set<Promise<void>>();
  const total = Math.round(options.rate * options.durationSeconds);
  const intervalMs = 1000 / options.rate;

  const send = () => {
    const sentAt = performance.now();
    const call = pool
      .request({ path: target.path, method: 'POST', headers: target.headers, body: target.body })
      .then(async (response) => {
        await response.body.text();
        if (response.statusCode >= 200 && response.statusCode < 300) latencies.push(performance.now() - sentAt);
        else countFailure(failures, String(response.statusCode));
      })
      .catch(() => countFailure(failures, 'error'));
    inFlight.add(call);
    void call.finally(() => inFlight.delete(call));
  };

  const started = performance.now();
  const deadline = started + options.durationSeconds * 1000 + 5_000;
  let sent = 0;
  while (sent < total && performance.now() < deadline) {
    const due = Math.min(total, Math.floor((performance.now() - started) / intervalMs) + 1);
    while (sent < due) {
      send();
      sent += 1;
    }
    // Waking up only when the next request is due keeps the load generator's own CPU use low at light rates.
    await sleep(Math.max(1, Math.floor(started + sent * intervalMs - performance.now())));
  }
  await Promise.race([Promise.all(inFlight), sleep(5_000)]);
  const elapsedSeconds = (performance.now() - started) / 1000;
  if (inFlight.size > 0) failures.unanswered = inFlight.size;
  await pool.destroy();
  return loadResult(latencies, failures, elapsedSeconds);
}
