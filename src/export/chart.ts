import { Worker } from 'node:worker_threads';
import type { TopLevelSpec } from 'vega-lite';
import { roundForDisplay } from '../scoring/rubric.js';
import { MEASURES, type Measure, type SummarySection } from './summary.js';

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

function qualityChartSpec(section: SummarySection, title: string): TopLevelSpec {
  const scoredModels = section.models.flatMap(({ alias, means }) => (means ? [{ alias, means }] : []));
  const values: BarDatum[] = scoredModels.flatMap(({ alias, means }) =>
    MEASURES.map((measure) => ({
      model: alias,
      measure: MEASURE_LABELS[measure],
      score: means[measure],
      label: roundForDisplay(means[measure]).toFixed(2),
    })),
  );
  const modelOrder = scoredModels.map(({ alias }) => alias);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: values.length === 0 ? `${title}: no scored results` : title,
    width: 480,
    height: 260,
    background: 'white',
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
  };
}

/** Two scored models, so that warming up runs the same code as a real chart. */
const WARM_UP_SECTION = {
  models: ['a', 'b'].map((alias) => ({ alias, means: Object.fromEntries(MEASURES.map((measure) => [measure, 3])) })),
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
