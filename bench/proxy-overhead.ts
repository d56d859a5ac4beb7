import type { Config } from '../src/config.js';
import { buildModelRegistry, FINE_TUNED_ALIAS } from '../src/models/registry.js';
import { toResponsesRequest } from '../src/models/openai-wire.js';
import { waitUntilAccepting } from './evaluation-client.js';
import type { ForkedProcess } from './forked-process.js';
import { describeFailures, runAutocannon, runPaced, type LoadResult, type Target } from './load.js';
import type { SectionResult } from './report.js';
import { SERVICE_AUTH_HEADERS } from './service-env.js';
import { count, ms, perSecond, ratio } from './stats.js';

const RATE = 1_000;
/** A light load, where the service never queues: what one request costs, apart from saturation. */
const LIGHT_RATE = 100;
const CONNECTION_COUNTS = [10, 50];
const RATED_SECONDS = 10;
const PACED_SECONDS = 5;
const UNTHROTTLED_SECONDS = 5;
const WARMUP_SECONDS = 2;
const ADDED_P99_BUDGET_MS = 2;

export interface ProxyOverheadInput {
  service: ForkedProcess;
  /** The fake upstream; its url is the base URL, ending in /v1. */
  upstream: ForkedProcess;
  /** The service's own configuration, so that the direct request is byte for byte what the service sends. */
  config: Config;
  inquiry: string;
}

function targets(input: ProxyOverheadInput): { service: Target; direct: Target } {
  const entry = buildModelRegistry(input.config).resolve(FINE_TUNED_ALIAS);
  if (entry.kind !== 'openai') throw new Error(`'${FINE_TUNED_ALIAS}' is not an OpenAI-backed alias in this configuration`);
  const upstream = new URL(input.upstream.url);
  return {
    service: {
      origin: input.service.url,
      path: '/answer',
      body: JSON.stringify({ inquiry: input.inquiry }),
      headers: { ...SERVICE_AUTH_HEADERS, 'content-type': 'application/json' },
    },
    direct: {
      origin: upstream.origin,
      path: `${upstream.pathname}/responses`,
      body: JSON.stringify(toResponsesRequest(entry, { inquiry: input.inquiry })),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${input.config.OPENAI_API_KEY ?? ''}` },
    },
  };
}

interface Measured extends LoadResult {
  /** CPU time the service process spent per request of the run (0 for direct runs), in ms. */
  serviceCpuPerRequest: number;
  upstreamCpuPerRequest: number;
}

interface Comparison {
  label: string;
  connections: number;
  /** Requests per second offered; null when unthrottled. */
  rate: number | null;
  direct: Measured;
  service: Measured;
}

const addedP50 = (c: Comparison) => c.service.latency.p50 - c.direct.latency.p50;
const addedP99 = (c: Comparison) => c.service.latency.p99 - c.direct.latency.p99;
const shed = (c: Comparison) => c.service.failures['503'] ?? 0;

function row(c: Comparison): string[] {
  return [
    c.label,
    String(c.connections),
    c.rate === null ? 'max' : perSecond(c.rate),
    perSecond(c.direct.throughput),
    perSecond(c.service.throughput),
    ratio(c.service.throughput / c.direct.throughput),
    `${ms(c.direct.latency.p50)} / ${ms(c.service.latency.p50)}`,
    ms(addedP50(c)),
    `${ms(c.direct.latency.p99)} / ${ms(c.service.latency.p99)}`,
    ms(addedP99(c)),
    `${describeFailures(c.direct)} / ${describeFailures(c.service)}`,
    ...(c.rate === LIGHT_RATE
      ? ['–', '–']
      : [ms(c.service.serviceCpuPerRequest, 3), `${ms(c.direct.upstreamCpuPerRequest, 3)} / ${ms(c.service.upstreamCpuPerRequest, 3)}`]),
  ];
}

export async function measureProxyOverhead(input: ProxyOverheadInput): Promise<SectionResult> {
  const { service, direct } = targets(input);
  const comparisons: Comparison[] = [];
  // Latency also counts the time other processes held the CPU; CPU time per request counts it much less.
  const measure = async (target: Target, run: (target: Target) => Promise<LoadResult>): Promise<Measured> => {
    await waitUntilAccepting(input.service.url);
    const [serviceBefore, upstreamBefore] = await Promise.all([input.service.cpuMs(), input.upstream.cpuMs()]);
    const result = await run(target);
    const [serviceAfter, upstreamAfter] = await Promise.all([input.service.cpuMs(), input.upstream.cpuMs()]);
    const requests = Math.max(1, result.ok + result.failed);
    return { ...result, serviceCpuPerRequest: (serviceAfter - serviceBefore) / requests, upstreamCpuPerRequest: (upstreamAfter - upstreamBefore) / requests };
  };
  // Direct and service runs alternate so that a burst of noise on the shared machine hits both sides of a ratio.
  const compare = async (label: string, connections: number, rate: number | null, run: (target: Target) => Promise<LoadResult>) => {
    const directResult = await measure(direct, run);
    const serviceResult = await measure(service, run);
    const comparison = { label, connections, rate, direct: directResult, service: serviceResult };
    comparisons.push(comparison);
    return comparison;
  };

  // JIT, keep-alive pools and the upstream connection pool all warm up before anything counts.
  await runAutocannon(direct, { connections: 10, durationSeconds: WARMUP_SECONDS });
  await runAutocannon(service, { connections: 10, durationSeconds: WARMUP_SECONDS });

  const light = await compare('paced, open loop', 10, LIGHT_RATE, (target) =>
    runPaced(target, { connections: 10, durationSeconds: PACED_SECONDS, rate: LIGHT_RATE }),
  );
  for (const connections of CONNECTION_COUNTS) {
    await compare('autocannon overallRate', connections, RATE, (target) =>
      runAutocannon(target, { connections, durationSeconds: RATED_SECONDS, overallRate: RATE }),
    );
  }
  for (const connections of CONNECTION_COUNTS) {
    await compare('paced, open loop', connections, RATE, (target) => runPaced(target, { connections, durationSeconds: PACED_SECONDS, rate: RATE }));
  }
  const unthrottled = await compare('autocannon unthrottled', 50, null, (target) =>
    runAutocannon(target, { connections: 50, durationSeconds: UNTHROTTLED_SECONDS }),
  );

  const atBudgetRate = comparisons.filter((c) => c.rate === RATE);
  const pacedAtRate = atBudgetRate.find((c) => c.label.startsWith('paced')) as Comparison;
  const anyFailed = comparisons.some((c) => c.direct.failed + c.service.failed > 0);
  return {
    title: '1. Proxy overhead: POST /answer vs the same Responses request sent straight to the fake upstream',
    head: ['Load', 'Conns', 'Rate', 'Direct 2xx/s', 'Service 2xx/s', 'Throughput ratio', 'p50 direct / service', 'Added p50', 'p99 direct / service', 'Added p99', 'Failed direct / service', 'Service CPU per request', 'Fake CPU per request direct / service'],
    rows: comparisons.map(row),
    checks: [
      ...atBudgetRate.map((c) => ({
        target: `Added p99 < ${ADDED_P99_BUDGET_MS} ms at ${perSecond(RATE)} (${c.label}, ${c.connections} connections)`,
        measured: ms(addedP99(c)),
        pass: addedP99(c) < ADDED_P99_BUDGET_MS && c.service.failed === 0,
      })),
      {
        target: 'Every request answered 2xx, in every run',
        measured: anyFailed ? `${count(comparisons.reduce((sum, c) => sum + c.direct.failed + c.service.failed, 0))} failed` : '0 failed',
        pass: !anyFailed,
      },
    ],
    notes: [
      `At a light ${perSecond(LIGHT_RATE)}, where nothing queues, the service adds ${ms(addedP50(light))} at p50 and ${ms(addedP99(light))} at p99. At ${perSecond(RATE)} (paced, 10 connections) each request costs the service ${ms(pacedAtRate.service.serviceCpuPerRequest, 2)} of CPU against ${ms(pacedAtRate.direct.upstreamCpuPerRequest, 2)} for the fake, i.e. about ${Math.round((pacedAtRate.service.serviceCpuPerRequest * RATE) / 10)}% of a core: what the service adds beyond the light-load figure is queueing (and, when its load shedding trips, 503s). CPU per request is left out at the light rate: on this machine each wake-up of an idle process costs more than the request itself.`,
      `Unthrottled, the service answers ${perSecond(unthrottled.service.throughput)} with 2xx against ${perSecond(unthrottled.direct.throughput)} straight to the fake (ratio ${ratio(unthrottled.service.throughput / unthrottled.direct.throughput)})${
        shed(unthrottled) > 0
          ? `, and refuses ${count(shed(unthrottled))} requests with 503: its load shedding trips, autocannon ignores Retry-After and re-sends at once, and refusals (cheap, hence the low CPU per request) crowd out real work`
          : ''
      }. On 2 cores the service, the fake and the load generator compete for CPU.`,
      'For scale: the best-known general gateway reports about 3 ms median and 13 ms p99 of added latency.',
      "autocannon's overallRate sends each connection's per-second quota back to back, then idles until the next second: its \"1,000/s\" rows measure short bursts at full speed with 10 or 50 requests in flight, i.e. queueing at saturation. The paced rows send one request every millisecond, the load the budget describes.",
      'Added latency = service percentile minus direct percentile at the same load (latencies of 2xx replies, fractional ms). The service (compiled to JavaScript, as in production, with authentication, rate limiting and load shedding on), the fake upstream and the load generator each run in their own process. CPU per request is CPU time of the process during the run divided by the requests it received.',
    ],
  };
}
