import { View, parse } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
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

/** A grouped bar chart of the section's means: one group per measure, one bar per scored model. */
export async function renderQualityChartSvg(section: SummarySection, options: { title?: string } = {}): Promise<string> {
  const { spec } = compile(qualityChartSpec(section, options.title ?? DEFAULT_TITLE));
  const view = new View(parse(spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
