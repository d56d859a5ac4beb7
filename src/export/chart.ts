import { Worker } from 'node:worker_threads';
import type { TopLevelSpec } from 'vega-lite';
import { RUBRIC_LEVELS, roundForDisplay } from '../scoring/rubric.js';
import { headlineInterval, signed } from './gain-words.js';
import { itemCount, partialNotice } from './summary-markdown.js';
import { MEASURES, type Measure, type RunProvenance, type RunSummary, type SummarySection } from './summary-schema.js';

export const MEASURE_LABELS: Record<Measure, string> = {
  accuracy: 'Accuracy',
  actionability: 'Actionability',
  completeness: 'Completeness',
  safety_tone: 'Safety/tone',
  weighted: 'Weighted',
};

/** What the chart draws of a run's summary. */
export type ChartSummary = Pick<RunSummary, 'completeness' | 'headline' | 'all' | 'unseen'> & { provenance: Pick<RunProvenance, 'scorer'> };

const RUBRIC_FLOOR = RUBRIC_LEVELS[0];
const RUBRIC_TOP = RUBRIC_LEVELS[RUBRIC_LEVELS.length - 1];
export const MEAN_AXIS_TITLE = `Mean score (rubric ${RUBRIC_FLOOR}-${RUBRIC_TOP})`;

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

/** One column of the chart: the items it is about and the heading that says so. */
interface ChartColumn {
  section: SummarySection;
  heading: string;
}

const MEASURE_ORDER = MEASURES.map((measure) => MEASURE_LABELS[measure]);
const MEASURE_AXIS = { field: 'measure', type: 'nominal', sort: MEASURE_ORDER, scale: { domain: MEASURE_ORDER }, axis: { labelAngle: 0, title: null } } as const;
const PANEL_WIDTH = 480;

/** The paired gains with their 95% intervals as whiskers: the bars say how much, the whiskers how sure. */
function gainPanel({ section }: ChartColumn) {
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
  const comparisons = section.comparisons.map((gain) => `${gain.first} − ${gain.second}`);
  const xOffset = { field: 'comparison', type: 'nominal', sort: comparisons } as const;
  return {
    // Under its column's heading, which says what items it is about.
    title: values.length === 0 ? 'Paired gain: no paired items' : 'Paired gain with 95% interval (whiskers)',
    width: PANEL_WIDTH,
    height: 180,
    data: { values },
    encoding: { x: MEASURE_AXIS, xOffset, color: { field: 'comparison', type: 'nominal', sort: comparisons, legend: { title: 'Comparison', labelLimit: 0 } } },
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

/** A grouped bar chart of the column's means: one group per measure, one bar per scored model. */
function meansPanel({ section, heading }: ChartColumn) {
  const scoredModels = section.models.flatMap(({ alias, means }) => (means ? [{ alias, means }] : []));
  const values: BarDatum[] = scoredModels.flatMap(({ alias, means }) =>
    MEASURES.flatMap((measure) => {
      const score = means[measure];
      return score === null ? [] : [{ model: alias, measure: MEASURE_LABELS[measure], score, label: roundForDisplay(score).toFixed(2) }];
    }),
  );
  const modelOrder = scoredModels.map(({ alias }) => alias);
  return {
    title: values.length === 0 ? `${heading}: no scored results` : heading,
    width: PANEL_WIDTH,
    height: 260,
    data: { values },
    encoding: {
      // An empty chart still shows which measures it is about.
      x: MEASURE_AXIS,
      xOffset: { field: 'model', type: 'nominal', sort: modelOrder },
      y: {
        field: 'score',
        type: 'quantitative',
        // The rubric's range, so charts of different runs compare at a glance. No score lies below its floor:
        // a bar rises from the floor, and its length is how far the mean is above the worst grade.
        scale: { domain: [RUBRIC_FLOOR, RUBRIC_TOP] },
        axis: { values: [...RUBRIC_LEVELS] },
        title: MEAN_AXIS_TITLE,
      },
      color: { field: 'model', type: 'nominal', sort: modelOrder, legend: { title: 'Model' } },
    },
    layer: [
      { mark: 'bar', encoding: { y2: { datum: RUBRIC_FLOOR } } },
      {
        mark: { type: 'text', baseline: 'bottom', dy: -2, fontSize: 9 },
        encoding: { text: { field: 'label', type: 'nominal' } },
      },
    ],
  };
}

/** "fine-tuned vs baseline · heuristic scorer · 36 items": what a reader must know before reading a bar. */
function chartTitle(summary: ChartSummary): string {
  const [first, ...others] = summary.all.models.map((model) => model.alias);
  const models = others.length === 0 ? (first ?? 'no model') : `${first} vs ${others.join(', ')}`;
  const scorer = summary.provenance.scorer === 'none' ? 'not scored' : `${summary.provenance.scorer} scorer`;
  return `${models} · ${scorer} · ${itemCount(summary.all.items)}`;
}

/**
 * Items the fine-tune saw in training flatter it, so when there are any the unseen items come first, as in the
 * summary, and all items stand beside them: a reader sees both and which is which.
 */
function chartColumns(summary: ChartSummary): { columns: ChartColumn[]; scope: string } {
  if (summary.headline === 'all') {
    return { columns: [{ section: summary.all, heading: 'Mean rubric score by model' }], scope: 'No item is a copy of a training inquiry: every item is shown.' };
  }
  const seen = summary.all.items - summary.unseen.items;
  return {
    columns: [
      { section: summary.unseen, heading: `Headline: items not in the training set (${itemCount(summary.unseen.items)})` },
      { section: summary.all, heading: `All items (${itemCount(summary.all.items)})` },
    ],
    scope: `${seen} of ${itemCount(summary.all.items)} are copies of training inquiries: left, the items not in the training set (the headline); right, all items.`,
  };
}

function qualityChartSpec(summary: ChartSummary, runId: string | undefined): TopLevelSpec {
  const { columns, scope } = chartColumns(summary);
  const hasGains = columns.some(({ section }) => section.comparisons.length > 0);
  const partial = partialNotice(summary);
  const subtitle = [...(partial ? [`${partial}.`] : []), scope, ...(runId ? [`Run ${runId}`] : [])];
  // Side by side, the columns share their scales, so a bar of one compares with its neighbour's.
  const row = (panels: object[]) => ({ hconcat: panels, resolve: { scale: { y: 'shared', color: 'shared' } } });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    background: 'white',
    title: { text: chartTitle(summary), subtitle, anchor: 'start', fontSize: 15, subtitleFontSize: 11 },
    // The gains under the means, so the file the case study linked shows the uncertainty beside the means.
    vconcat: [row(columns.map(meansPanel)), ...(hasGains ? [row(columns.map(gainPanel))] : [])],
    resolve: { scale: { color: 'independent', x: 'independent', xOffset: 'independent' }, legend: { color: 'independent' } },
  } as TopLevelSpec;
}

/** Two scored models and a gain, so that warming up runs the same code as a real chart. */
const WARM_UP_SECTION = {
  items: 1,
  models: ['a', 'b'].map((alias) => ({ alias, means: Object.fromEntries(MEASURES.map((measure) => [measure, 3])) })),
  comparisons: [
    {
      first: 'a',
      second: 'b',
      measures: Object.fromEntries(MEASURES.map((measure) => [measure, { mean_difference: 0, ci95_bootstrap: null, ci95_t: { low: -0.5, high: 0.5 } }])),
    },
  ],
} as unknown as SummarySection;
const WARM_UP_SUMMARY: ChartSummary = {
  completeness: { run_status: 'completed', items: 1, finished: 1, partial: false },
  headline: 'all',
  all: WARM_UP_SECTION,
  unseen: WARM_UP_SECTION,
  provenance: { scorer: 'heuristic' },
};

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
  renderSvg(qualityChartSpec(WARM_UP_SUMMARY, undefined)).catch(() => undefined);
}

/**
 * The run's quality chart: titled with its models, scorer and items; the means per measure and model, and under
 * them the paired gains; the items not in the training set beside all items whenever some were in training.
 */
export async function renderQualityChartSvg(summary: ChartSummary, options: { runId?: string } = {}): Promise<string> {
  return renderSvg(qualityChartSpec(summary, options.runId));
}
