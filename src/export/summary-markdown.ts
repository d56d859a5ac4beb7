import { CRITERIA, type Criterion, roundForDisplay } from '../scoring/rubric.js';
import type { Measure, ModelSummary, RunSummary, SummarySection } from './summary.js';

export interface SummaryMeta {
  run_id: string;
  created_at: string;
  scorer: string;
  source: string;
}

const CRITERION_LABELS: Record<Criterion, string> = {
  accuracy: 'Accuracy',
  actionability: 'Actionability',
  completeness: 'Completeness',
  safety_tone: 'Safety/tone',
};

const MISSING = '—';

// Model ids and run metadata are free text; a pipe would split a table cell.
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
const score = (x: number | undefined) => (x === undefined ? MISSING : roundForDisplay(x).toFixed(2));

function signed(x: number | undefined) {
  if (x === undefined) return MISSING;
  const shown = roundForDisplay(x);
  return shown > 0 ? `+${shown.toFixed(2)}` : shown.toFixed(2);
}

function qualityTable(section: SummarySection, weights: RunSummary['weights']): string[] {
  const models = section.models;
  const { gain } = section;
  const withGain = models.length >= 2;
  const gainHeader = models.length === 2 ? 'Gain' : `Gain (${cell(models[0]?.alias ?? '')} − ${cell(models[1]?.alias ?? '')})`;
  const header = ['Criterion', ...models.map((model) => cell(model.alias)), ...(withGain ? [gainHeader] : [])];
  const alignment = ['---', ...header.slice(1).map(() => '---:')];
  const measureRow = (label: string, measure: Measure) => [
    label,
    ...models.map((model) => score(model.means?.[measure])),
    ...(withGain ? [signed(gain?.[measure])] : []),
  ];
  return [
    row(header),
    row(alignment),
    ...CRITERIA.map((criterion) =>
      row(measureRow(`${CRITERION_LABELS[criterion]} (${weights[criterion].toFixed(2)})`, criterion)),
    ),
    row(measureRow('**Weighted score**', 'weighted')),
  ];
}

function operationsTable(models: ModelSummary[]): string[] {
  const header = [
    'Model',
    'Model id',
    'Results',
    'Scored',
    'Failed',
    'Latency p50 (ms)',
    'Latency p95 (ms)',
    'Tokens in',
    'Tokens out',
    'Est. cost (USD)',
  ];
  const milliseconds = (x: number | undefined) => (x === undefined ? MISSING : String(Math.round(x)));
  return [
    row(header),
    row(['---', '---', ...header.slice(2).map(() => '---:')]),
    ...models.map((model) =>
      row([
        cell(model.alias),
        cell(model.model_id),
        String(model.n),
        String(model.scored),
        String(model.failed),
        milliseconds(model.latency_ms?.p50),
        milliseconds(model.latency_ms?.p95),
        String(model.tokens.input),
        String(model.tokens.output),
        model.estimated_cost_usd === null ? MISSING : model.estimated_cost_usd.toFixed(4),
      ]),
    ),
  ];
}

const itemCount = (n: number) => (n === 1 ? '1 item' : `${n} items`);

function trainingOverlapLine(summary: RunSummary) {
  const leftOut = summary.all.items - summary.unseen.items;
  if (leftOut === 0) return 'No item’s inquiry was in the training set; this table equals the one above.';
  return `${leftOut} of ${itemCount(summary.all.items)} had an inquiry in the training set and ${leftOut === 1 ? 'is' : 'are'} left out: their scores would flatter a model trained on them.`;
}

/** The run's results as the case study's quality table, the same for unseen items, then operations. */
export function renderSummaryMarkdown(summary: RunSummary, meta: SummaryMeta): string {
  return [
    `# Evaluation run ${cell(meta.run_id)}`,
    '',
    `Created ${cell(meta.created_at)} · scorer: ${cell(meta.scorer)} · source: ${cell(meta.source)}`,
    '',
    `## Quality, all items (${itemCount(summary.all.items)})`,
    '',
    ...qualityTable(summary.all, summary.weights),
    '',
    `## Quality, items not in the training set (${itemCount(summary.unseen.items)})`,
    '',
    trainingOverlapLine(summary),
    '',
    ...qualityTable(summary.unseen, summary.weights),
    '',
    '## Operations',
    '',
    ...operationsTable(summary.all.models),
    '',
  ].join('\n');
}
