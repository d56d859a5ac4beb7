/**
 * The service under test, built exactly as src/server.ts builds it but without logs, in its own
 * process: the load generator and the fake upstream then cost it no event-loop time, and its
 * memory is its own.
 */
import { readFileSync } from 'node:fs';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { listenToParent, sendToParent } from './forked-process.js';

const MEMORY_SAMPLE_INTERVAL_MS = 50;

function peakRssFromProc(): number | null {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null; // not Linux
  }
}

const app = await buildApp({ config: loadConfig(process.env), logger: false });
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
if (address === null || typeof address === 'string') throw new Error('the service did not listen on a TCP port');

const bootRss = process.memoryUsage.rss();
let peakRss = bootRss;
let samples = 0;
const sampler = setInterval(() => {
  samples += 1;
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, MEMORY_SAMPLE_INTERVAL_MS);

listenToParent({
  onMessage(message) {
    if (message.type === 'memory') {
      const rss = process.memoryUsage.rss();
      peakRss = Math.max(peakRss, rss);
      const vmHwm = peakRssFromProc();
      let heapAfterGc: number | null = null;
      if (typeof globalThis.gc === 'function') {
        globalThis.gc();
        heapAfterGc = process.memoryUsage().heapUsed;
      }
      sendToParent({ type: 'memory', peakRss, rss, bootRss, vmHwm, heapAfterGc, samples });
    }
  },
  async close() {
    clearInterval(sampler);
    await app.close();
  },
});

sendToParent({ type: 'ready', url: `http://127.0.0.1:${address.port}` });
