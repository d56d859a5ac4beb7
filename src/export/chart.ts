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

let renderer: Promise<[typeof import('vega'), typeof import('vega-lite')]> | undefined;

/**
 * Vega and Vega-Lite, loaded on first use rather than at boot: they hold about 20 MB that a service
 * which never ends a run would carry for nothing. Loading takes a few hundred milliseconds, so a run
 * asks for them when it starts (without waiting) and its exports do not pay for it at the end.
 */
export function loadChartRenderer(): Promise<[typeof import('vega'), typeof import('vega-lite')]> {
  renderer ??= Promise.all([import('vega'), import('vega-lite')]);
  return renderer;
}

/** A grouped bar chart of the section's means: one group per measure, one bar per scored model. */
export async function renderQualityChartSvg(section: SummarySection, options: { title?: string } = {}): Promise<string> {
  const [{ View, parse }, { compile }] = await loadChartRenderer();
  const { spec } = compile(qualityChartSpec(section, options.title ?? DEFAULT_TITLE));
  const view = new View(parse(spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
