import { Worker } from 'node:worker_threads';
import type { TopLevelSpec } from 'vega-lite';
import { roundForDisplay } from '../scoring/rubric.js';
import { headlineInterval, signed } from './gain-words.js';
import { MEASURES, type Measure, type SummarySection } from './summary-schema.js';

export const MEASURE_LABELS: Record<Measure, string> = {
  accuracy: 'Accuracy',
  actionability: 'Actionability',
  completeness: 'Completeness',
  safety_tone: 'Safety/tone',
  weighted: 'Weighted',
};

const DEFAULT_TITLE = 'Mean rubric score by model';

interface BarDatum {
  model: string;
  measure: string;
  score: number;
  /** Rounded like the summary table, so the chart and the table never disagree on a tie. */
  label: string;
}

interface GainDatum {
  comparison: string;
  measure: string;
  gain: number;
  low: number;
  high: number;
  label: string;
}

const MEASURE_ORDER = MEASURES.map((measure) => MEASURE_LABELS[measure]);

/** The paired gains with their 95% intervals as whiskers: the bars say how much, the whiskers how sure. */
function gainPanel(section: SummarySection) {
  const values: GainDatum[] = section.comparisons.flatMap((gain) =>
    MEASURES.flatMap((measure) => {
      const comparison = gain.measures[measure];
      const interval = headlineInterval(comparison);
      if (comparison.mean_difference === null) return [];
      const low = interval?.low ?? comparison.mean_difference;
      const high = interval?.high ?? comparison.mean_difference;
      return [{ comparison: `${gain.first} − ${gain.second}`, measure: MEASURE_LABELS[measure], gain: comparison.mean_difference, low, high, label: signed(comparison.mean_difference) }];
    }),
  );
  if (values.length === 0) return null;
  const x = { field: 'measure', type: 'nominal', scale: { domain: MEASURE_ORDER }, axis: { labelAngle: 0, title: null } } as const;
  const comparisons = section.comparisons.map((gain) => `${gain.first} − ${gain.second}`);
  const xOffset = { field: 'comparison', type: 'nominal', sort: comparisons } as const;
  return {
    title: 'Paired gain with 95% interval (whiskers)',
    width: 480,
    height: 180,
    data: { values },
    encoding: { x, xOffset, color: { field: 'comparison', type: 'nominal', sort: comparisons, legend: { title: 'Comparison' } } },
    layer: [
      { mark: 'bar', encoding: { y: { field: 'gain', type: 'quantitative', title: 'Gain (paired)' } } },
      { mark: { type: 'rule', color: 'black' }, encoding: { y: { field: 'low', type: 'quantitative' }, y2: { field: 'high' } } },
      {
        mark: { type: 'text', baseline: 'bottom', dy: -2, fontSize: 9 },
        encoding: { y: { field: 'high', type: 'quantitative' }, text: { field: 'label', type: 'nominal' } },
      },
    ],
  };
}

function qualityChartSpec(section: SummarySection, title: string): TopLevelSpec {
  const scoredModels = section.models.flatMap(({ alias, means }) => (means ? [{ alias, means }] : []));
  const values: BarDatum[] = scoredModels.flatMap(({ alias, means }) =>
    MEASURES.flatMap((measure) => {
      const score = means[measure];
      return score === null ? [] : [{ model: alias, measure: MEASURE_LABELS[measure], score, label: roundForDisplay(score).toFixed(2) }];
    }),
  );
  const modelOrder = scoredModels.map(({ alias }) => alias);
  const means = {
    title: values.length === 0 ? `${title}: no scored results` : title,
    width: 480,
    height: 260,
    data: { values },
    encoding: {
      x: {
        field: 'measure',
        type: 'nominal',
        sort: MEASURES.map((measure) => MEASURE_LABELS[measure]),
        // An empty chart still shows which measures it is about.
        scale: { domain: MEASURES.map((measure) => MEASURE_LABELS[measure]) },
        axis: { labelAngle: 0, title: null },
      },
      xOffset: { field: 'model', type: 'nominal', sort: modelOrder },
      y: {
        field: 'score',
        type: 'quantitative',
        // The rubric's range, so charts of different runs compare at a glance.
        scale: { domain: [0, 5] },
        title: 'Mean score (0-5)',
      },
      color: { field: 'model', type: 'nominal', sort: modelOrder, legend: { title: 'Model' } },
    },
    layer: [
      { mark: 'bar' },
      {
        mark: { type: 'text', baseline: 'bottom', dy: -2, fontSize: 9 },
        encoding: { text: { field: 'label', type: 'nominal' } },
      },
    ],
  } as const;
  const gains = gainPanel(section);
  const schema = 'https://vega.github.io/schema/vega-lite/v6.json';
  // Both panels in one SVG, so the file the case study linked shows the uncertainty beside the means.
  return (gains ? { $schema: schema, background: 'white', vconcat: [means, gains], resolve: { scale: { color: 'independent', x: 'independent', xOffset: 'independent' }, legend: { color: 'independent' } } } : { $schema: schema, background: 'white', ...means }) as TopLevelSpec;
}

/** Two scored models and a gain, so that warming up runs the same code as a real chart. */
const WARM_UP_SECTION = {
  models: ['a', 'b'].map((alias) => ({ alias, means: Object.fromEntries(MEASURES.map((measure) => [measure, 3])) })),
  comparisons: [
    {
      first: 'a',
      second: 'b',
      measures: Object.fromEntries(MEASURES.map((measure) => [measure, { mean_difference: 0, ci95_bootstrap: null, ci95_t: { low: -0.5, high: 0.5 } }])),
    },
  ],
} as unknown as SummarySection;

/**
 * The renderer's side of the worker thread. It is a script rather than a module file so that it runs
 * the same from the TypeScript sources (tests, tsx) and from the compiled build; it imports Vega by
 * the absolute URLs this module resolved.
 */
const RENDERER_SCRIPT = `
const { parentPort, workerData } = require('node:worker_threads');
const loaded = Promise.all([import(workerData.vega), import(workerData.vegaLite)]);
parentPort.on('message', async ({ id, spec }) => {
  try {
    const [{ View, parse }, { compile }] = await loaded;
    const view = new View(parse(compile(spec).spec), { renderer: 'none' });
    try {
      parentPort.postMessage({ id, svg: await view.toSVG() });
    } finally {
      view.finalize();
    }
  } catch (error) {
    parentPort.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
  }
});
`;

type RenderReply = { id: number; svg: string; error?: undefined } | { id: number; error: string };

interface ChartRenderer {
  worker: Worker;
  pending: Map<number, { resolve(svg: string): void; reject(error: Error): void }>;
}

let renderer: ChartRenderer | undefined;
let nextRenderId = 0;

/**
 * Vega and Vega-Lite run in a worker thread, started on first use. Loading them takes about 300 ms
 * of compiling and holds about 30 MB, and a chart takes 30-130 ms to draw: on the main thread every
 * request in flight, and every call of a running evaluation, would wait for that. A service that
 * never ends a run never starts the worker. An idle worker does not keep the process alive.
 */
function chartRenderer(): ChartRenderer {
  if (renderer) return renderer;
  const worker = new Worker(RENDERER_SCRIPT, {
    eval: true,
    workerData: { vega: import.meta.resolve('vega'), vegaLite: import.meta.resolve('vega-lite') },
  });
  const started: ChartRenderer = { worker, pending: new Map() };
  worker.unref();
  worker.on('message', (reply: RenderReply) => {
    const waiting = started.pending.get(reply.id);
    started.pending.delete(reply.id);
    if (started.pending.size === 0) worker.unref();
    if (reply.error === undefined) waiting?.resolve(reply.svg);
    else waiting?.reject(new Error(`the chart could not be drawn: ${reply.error}`));
  });
  // A worker that died fails what it was drawing; the next chart starts a new one.
  const fail = (error: Error) => {
    if (renderer === started) renderer = undefined;
    for (const waiting of started.pending.values()) waiting.reject(error);
    started.pending.clear();
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`the chart renderer stopped (exit code ${code})`)));
  renderer = started;
  return started;
}

/** Draws a Vega-Lite spec to SVG in the renderer's worker thread. */
export function renderSvg(spec: TopLevelSpec): Promise<string> {
  const { worker, pending } = chartRenderer();
  const id = nextRenderId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    // Keeps the process alive while a chart is owed, e.g. to the CLI writing a run's exports.
    worker.ref();
    worker.postMessage({ id, spec });
  });
}

/**
 * Starts the renderer and draws a throwaway chart, without waiting: a run calls this when it starts,
 * so that its exports at the end pay neither for loading Vega nor for its first, slowest chart.
 * A renderer that is already running is warm, and is left alone.
 */
export function warmChartRenderer(): void {
  if (renderer) return;
  renderSvg(qualityChartSpec(WARM_UP_SECTION, DEFAULT_TITLE)).catch(() => undefined);
}

/** A grouped bar chart of the section's means: one group per measure, one bar per scored model. */
export async function renderQualityChartSvg(section: SummarySection, options: { title?: string } = {}): Promise<string> {
  return renderSvg(qualityChartSpec(section, options.title ?? DEFAULT_TITLE));
}
