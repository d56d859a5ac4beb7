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

type ChartRenderer = [typeof import('vega'), typeof import('vega-lite')];
let renderer: Promise<ChartRenderer> | undefined;

/**
 * Vega and Vega-Lite, loaded on first use rather than at boot: they hold about 20 MB that a service
 * which never ends a run would carry for nothing. Loading takes most of a second and the first chart
 * drawn in a process takes about 130 ms (later ones 30-60 ms), so a run asks for the renderer when it
 * starts, without waiting, and `warm` draws a throwaway chart then: its exports do not pay for either
 * at the end.
 */
export function loadChartRenderer(options: { warm?: boolean } = {}): Promise<ChartRenderer> {
  if (!renderer) {
    renderer = Promise.all([import('vega'), import('vega-lite')]);
    if (options.warm) void renderer.then((loaded) => drawSvg(loaded, qualityChartSpec(WARM_UP_SECTION, DEFAULT_TITLE))).catch(() => undefined);
  }
  return renderer;
}

async function drawSvg([{ View, parse }, { compile }]: ChartRenderer, spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** A grouped bar chart of the section's means: one group per measure, one bar per scored model. */
export async function renderQualityChartSvg(section: SummarySection, options: { title?: string } = {}): Promise<string> {
  return drawSvg(await loadChartRenderer(), qualityChartSpec(section, options.title ?? DEFAULT_TITLE));
}
