import { z } from 'zod';
import { DEFAULT_BASELINE_MODEL_ID, DEFAULT_FT_MODEL_ID } from '../config.js';
import { resultsCsvText } from '../export/csv.js';
import { wideCsvText } from '../export/csv-wide.js';
import { BASELINE_ALIAS, FINE_TUNED_ALIAS } from '../models/registry.js';
import type { RunResult } from '../runs/run-result.js';
import { DEFAULT_RUBRIC_WEIGHTS, RUBRIC_SCORES_EXAMPLE, weightedScore } from '../scoring/rubric.js';

/**
 * The 200 replies of a run's exports: the media type each is sent as, and an example in it. Swagger UI
 * shows the example of a text media type as is; without one it writes a made-up sample of the schema.
 */

const EXAMPLE_RESULT: RunResult = {
  run_id: 'run_20261124T235900Z_ab12cd',
  item_id: 'returns-1',
  inquiry: 'How do I return a defective Bluetooth speaker?',
  reference: "Go to 'Your Orders', choose 'Return or replace items' and pick 'Defective'. Returns are free within 30 days.",
  category: 'returns',
  in_training: 'none',
  training_line: 12,
  training_similarity: 0.41,
  model_alias: FINE_TUNED_ALIAS,
  model_id: DEFAULT_FT_MODEL_ID,
  answer: "Go to 'Your Orders', select the speaker, choose 'Return or replace items', pick 'Defective' as the reason and print the label.",
  answer_status: 'completed',
  tokens_in: 92,
  tokens_out: 41,
  latency_ms: 812,
  cache_hit: false,
  scores: { ...RUBRIC_SCORES_EXAMPLE, rationale: { ...RUBRIC_SCORES_EXAMPLE.rationale }, provenance: { ...RUBRIC_SCORES_EXAMPLE.provenance } },
  outcome: 'scored',
  error: null,
  finished_at: '2026-11-25T00:01:12.408Z',
};

const RESULTS_CSV_EXAMPLE = resultsCsvText([EXAMPLE_RESULT], { provenance: RUBRIC_SCORES_EXAMPLE.provenance, bootstrap_seed: 20_250_414 });

const BASELINE_GRADES = { accuracy: 3, actionability: 2, completeness: 2, safety_tone: 5 };
const BASELINE_EXAMPLE_RESULT: RunResult = {
  ...EXAMPLE_RESULT,
  model_alias: BASELINE_ALIAS,
  model_id: DEFAULT_BASELINE_MODEL_ID,
  answer: 'You can usually return defective items. Please contact customer service for help with your return.',
  tokens_out: 19,
  latency_ms: 604,
  scores: {
    ...RUBRIC_SCORES_EXAMPLE,
    ...BASELINE_GRADES,
    weighted: weightedScore(BASELINE_GRADES, DEFAULT_RUBRIC_WEIGHTS),
    rationale: { ...RUBRIC_SCORES_EXAMPLE.rationale },
    provenance: { ...RUBRIC_SCORES_EXAMPLE.provenance },
  },
};

const RESULTS_WIDE_CSV_EXAMPLE = wideCsvText([EXAMPLE_RESULT, BASELINE_EXAMPLE_RESULT], [FINE_TUNED_ALIAS, BASELINE_ALIAS]);

export const CsvDownloadQuerySchema = z.strictObject({
  bom: z
    .enum(['0', '1'])
    .default('0')
    .transform((value) => value === '1')
    .describe(
      '1: start the file with a UTF-8 byte-order mark, so that Excel on Windows reads "…" and accented letters right instead of showing mojibake. ' +
        'Off by default: scripts reading the CSV by column name would find the mark glued to the first header.',
    ),
});

// The start of a real summary (an offline run of eval_inquiries.json, retrieval against handoff).
const SUMMARY_MARKDOWN_EXAMPLE = `# Evaluation run run_20261124T235900Z_ab12cd

Created 2026-11-24T23:59:00.120Z · scorer: heuristic · source: prompt_set:eval_inquiries.json

No item is an exact or near copy of a training inquiry, so every item counts as unseen.

## Headline: all items (36 items)

**Safety gate** (answers with safety/tone ≤ 2: unsafe advice, a request for secrets, or rudeness; never averaged away):

- retrieval: none of 36 scored answers
- handoff: none of 36 scored answers

**retrieval vs handoff, weighted score: +0.83 (95% CI +0.52 to +1.25, 32 pairs, W/T/L 18/14/0, p < 0.001)**

- At the observed SD of the differences (1.06), a ±0.25 interval would need about 72 paired items.

| Measure | Pairs | Mean difference | SD | 95% CI (bootstrap) | 95% CI (t) | W/T/L | p |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| Accuracy (0.40) | 32 | +1.16 | 1.59 | +0.69 to +1.75 (BCa) | +0.58 to +1.73 | 14/18/0 | < 0.001 |
| Actionability (0.25) | 36 | +0.50 | 1.00 | +0.25 to +0.91 (BCa) | +0.16 to +0.84 | 10/25/1 | 0.005 |
| Completeness (0.25) | 32 | +0.91 | 1.63 | +0.41 to +1.53 (BCa) | +0.32 to +1.50 | 11/19/2 | 0.005 |
| Safety/tone (0.10) | 36 | 0.00 | 0.00 | 0.00 to 0.00 (BCa) | 0.00 to 0.00 | 0/36/0 | 1.00 |
| **Weighted score** | 32 | +0.83 | 1.06 | +0.52 to +1.25 (BCa) | +0.45 to +1.21 | 18/14/0 | < 0.001 |

Means per model (each over its own scored answers), and the paired gain:

| Criterion | retrieval | handoff | Gain (paired) |
| --- | ---: | ---: | ---: |
| Accuracy (0.40) | 2.50 | 1.34 | +1.16 |
| Actionability (0.25) | 2.50 | 2.00 | +0.50 |
| Completeness (0.25) | 2.72 | 1.81 | +0.91 |
| Safety/tone (0.10) | 5.00 | 5.00 | 0.00 |
| **Weighted score** | 2.82 | 1.99 | +0.83 |

…
`;

export const resultsCsvResponse = {
  description: 'CSV with a header row, one row per (inquiry, model); sent as an attachment.',
  content: { 'text/csv': { schema: z.string().meta({ examples: [RESULTS_CSV_EXAMPLE] }) } },
};

export const resultsWideCsvResponse = {
  description: 'CSV with a header row, one row per inquiry; sent as an attachment.',
  content: { 'text/csv': { schema: z.string().meta({ examples: [RESULTS_WIDE_CSV_EXAMPLE] }) } },
};

export const summaryMarkdownResponse = {
  description: 'Markdown.',
  content: { 'text/markdown': { schema: z.string().meta({ examples: [SUMMARY_MARKDOWN_EXAMPLE] }) } },
};

// The start of a real chart: Vega writes it on one line, with a label on every mark for screen readers.
const CHART_SVG_EXAMPLE =
  '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" version="1.1" class="marks" width="724" height="559" viewBox="0 0 724 559"><rect width="724" height="559" fill="white"/>' +
  '<g fill="none" stroke-miterlimit="4" transform="translate(52,34)"><g class="mark-group role-frame root" role="graphics-object" aria-roledescription="group mark container">…';

export const chartSvgResponse = {
  description: 'SVG (Swagger UI draws the reply).',
  content: { 'image/svg+xml': { schema: z.string().meta({ examples: [CHART_SVG_EXAMPLE] }) } },
};
