import type { RunStatus } from '../runs/run-store.js';
import type { PairwiseAspect } from '../scoring/pairwise-prompt.js';
import { CRITERIA, type Criterion, MEASURES } from '../scoring/rubric.js';
import type { PairedComparison } from '../stats/paired.js';
import { formatP, percent, signed } from './gain-words.js';
import { cell, MISSING, row, score } from './markdown-cells.js';
import { calibrationLines, humanSectionLines } from './summary-human-markdown.js';
import type { Measure, ModelSummary, PairedGain, PairwiseSummary, RunSummary, SummarySection } from './summary-schema.js';

export interface SummaryMeta {
  run_id: string;
  created_at: string;
  source: string;
}

const CRITERION_LABELS: Record<Criterion, string> = {
  accuracy: 'Accuracy',
  actionability: 'Actionability',
  completeness: 'Completeness',
  safety_tone: 'Safety/tone',
};

const signedOrMissing = (x: number | null | undefined) => (x === null || x === undefined ? MISSING : signed(x));
const count = (n: number) => n.toLocaleString('en-US');
export const itemCount = (n: number) => (n === 1 ? '1 item' : `${count(n)} items`);

const RUN_STATUS_WORDS: Record<RunStatus, string> = {
  queued: 'is queued',
  running: 'is running',
  completed: 'completed',
  failed: 'failed',
  cancelled: 'was cancelled',
};

/**
 * "Partial: 443 of 5,000 items finished; the run was cancelled", or null when every item is finished. A reader
 * of a cut-short run's summary or chart must know before any number that it is not the whole prompt set.
 */
export function partialNotice({ completeness }: Pick<RunSummary, 'completeness'>): string | null {
  if (!completeness.partial) return null;
  return `Partial: ${count(completeness.finished)} of ${itemCount(completeness.items)} finished; the run ${RUN_STATUS_WORDS[completeness.run_status]}`;
}

const measureLabel = (measure: Measure, weights: RunSummary['weights']) =>
  measure === 'weighted' ? '**Weighted score**' : `${CRITERION_LABELS[measure]} (${weights[measure].toFixed(2)})`;


function interval(value: { low: number; high: number } | null) {
  return value === null ? MISSING : `${signed(value.low)} to ${signed(value.high)}`;
}

/** The case study's table (means per model, then the gain), with the gain taken item by item. */
function qualityTable(section: SummarySection, weights: RunSummary['weights']): string[] {
  const { models } = section;
  const [comparison] = section.comparisons;
  const gainHeader = comparison ? (models.length === 2 ? 'Gain (paired)' : `Gain (paired, ${cell(comparison.first)} − ${cell(comparison.second)})`) : null;
  const header = ['Criterion', ...models.map((model) => cell(model.alias)), ...(gainHeader ? [gainHeader] : [])];
  return [
    row(header),
    row(['---', ...header.slice(1).map(() => '---:')]),
    ...MEASURES.map((measure) =>
      row([
        measureLabel(measure, weights),
        ...models.map((model) => score(model.means?.[measure])),
        ...(comparison ? [signedOrMissing(comparison.measures[measure].mean_difference)] : []),
      ]),
    ),
  ];
}

function pairedRow(label: string, comparison: PairedComparison): string[] {
  const bootstrap = comparison.ci95_bootstrap;
  return [
    label,
    String(comparison.n_pairs),
    signedOrMissing(comparison.mean_difference),
    comparison.sd_difference === null ? MISSING : comparison.sd_difference.toFixed(2),
    bootstrap ? `${interval(bootstrap)} (${bootstrap.method === 'bca' ? 'BCa' : 'percentile'})` : MISSING,
    interval(comparison.ci95_t),
    `${comparison.wins}/${comparison.ties}/${comparison.losses}`,
    comparison.p_value === null ? MISSING : formatP(comparison.p_value).replace(/^p (= )?/, ''),
  ];
}

function pairedTable(gain: PairedGain, weights: RunSummary['weights']): string[] {
  const header = ['Measure', 'Pairs', 'Mean difference', 'SD', '95% CI (bootstrap)', '95% CI (t)', 'W/T/L', 'p'];
  return [
    row(header),
    row(['---', ...header.slice(1).map(() => '---:')]),
    ...MEASURES.map((measure) => row(pairedRow(measureLabel(measure, weights), gain.measures[measure]))),
  ];
}

function gainBlock(gain: PairedGain, weights: RunSummary['weights']): string[] {
  return [
    `**${cell(gain.first)} vs ${cell(gain.second)}, weighted score: ${gain.headline}**`,
    '',
    ...gain.cautions.map((caution) => `- ${cell(caution)}`),
    ...(gain.cautions.length > 0 ? [''] : []),
    ...pairedTable(gain, weights),
  ];
}

function safetyGateLines(models: ModelSummary[]): string[] {
  const [first] = models;
  if (!first || models.every((model) => model.scored === 0)) return [];
  const level = first.safety_gate.max_level;
  const lines = models.map((model) => {
    const { count, item_ids: ids } = model.safety_gate;
    if (model.scored === 0) return `- ${cell(model.alias)}: not scored`;
    if (count === 0) return `- ${cell(model.alias)}: none of ${model.scored} scored answers`;
    const listed = ids.length > 10 ? `${ids.slice(0, 10).join(', ')}, … (+${ids.length - 10})` : ids.join(', ');
    return `- **${cell(model.alias)}: ${count} of ${model.scored} answers** (${cell(listed)})`;
  });
  return [`**Safety gate** (answers with safety/tone ≤ ${level}: unsafe advice, a request for secrets, or rudeness; never averaged away):`, '', ...lines, ''];
}

function coverageLines(section: SummarySection, summary: RunSummary): string[] {
  const lines = section.models
    .filter((model) => model.n > 0)
    .map((model) => {
      const parts = [`${model.scored} scored`];
      if (model.unscored_no_reference > 0) parts.push(`${model.unscored_no_reference} unscored: no reference`);
      parts.push(`${model.failed} failed`);
      return `${cell(model.alias)} ${parts.join(', ')}`;
    });
  const { with_reference: k, items: n } = summary.reference_coverage;
  return [`Results: ${lines.join('; ')}. Reference coverage: ${k}/${n} items have a reference answer.`];
}

function pairwiseLines(pairwise: PairwiseSummary[]): string[] {
  if (pairwise.length === 0) return [];
  const header = ['Aspect', 'Judged', 'W/T/L', 'Win rate (95% CI)', 'Decisive win rate (95% CI)', 'Order-inconsistent'];
  const lines: string[] = [];
  for (const pair of pairwise) {
    lines.push(`**Pairwise judge, ${cell(pair.first)} vs ${cell(pair.second)}: ${cell(pair.headline)}.**${pair.failed > 0 ? ` ${pair.failed} failed.` : ''}`, '');
    lines.push(row(header), row(['---', ...header.slice(1).map(() => '---:')]));
    for (const aspect of ['overall', ...CRITERIA] as const satisfies readonly PairwiseAspect[]) {
      const tally = pair[aspect];
      const rate = (value: typeof tally.win_rate) => (value === null ? MISSING : `${percent(value.value)} (${percent(value.low)} to ${percent(value.high)})`);
      lines.push(
        row([
          aspect === 'overall' ? '**Overall**' : CRITERION_LABELS[aspect],
          String(tally.wins + tally.ties + tally.losses),
          `${tally.wins}/${tally.ties}/${tally.losses}`,
          rate(tally.win_rate),
          rate(tally.decisive_win_rate),
          tally.inconsistent_share === null ? MISSING : `${tally.inconsistent} (${percent(tally.inconsistent_share)})`,
        ]),
      );
    }
    lines.push('');
  }
  return lines;
}

function sectionLines(title: string, section: SummarySection, summary: RunSummary): string[] {
  return [
    `## ${title} (${itemCount(section.items)})`,
    '',
    ...safetyGateLines(section.models),
    ...section.comparisons.flatMap((gain) => [...gainBlock(gain, summary.weights), '']),
    ...pairwiseLines(section.pairwise),
    ...(section.models.some((model) => model.scored > 0) ? ['Means per model (each over its own scored answers), and the paired gain:', '', ...qualityTable(section, summary.weights), ''] : []),
    ...coverageLines(section, summary),
    '',
  ];
}

function contaminationLine(summary: RunSummary): string {
  const { exact, near } = summary.contamination;
  if (exact + near === 0) return 'No item is an exact or near copy of a training inquiry, so every item counts as unseen.';
  return (
    `${exact + near} of ${itemCount(summary.all.items)} are copies of training inquiries (${exact} exact, ${near} near) and are left out of the headline: ` +
    'a model trained on them would be flattered. All items are shown below it.'
  );
}

function operationsTable(models: ModelSummary[]): string[] {
  const header = ['Model', 'Model id', 'Results', 'Scored', 'Failed', 'Latency p50 (ms)', 'Latency p95 (ms)', 'Tokens in', 'Tokens out', 'Est. cost (USD)'];
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

function scorerLines(summary: RunSummary): string[] {
  const { provenance: p, heuristic_agreement: agreement } = summary;
  const lines = ['## How these numbers were produced', ''];
  if (p.scorer === 'heuristic') {
    lines.push(
      agreement
        ? `The heuristic is a screening tool, not a judge: on labelled answer pairs it prefers the answer a person prefers ${percent(agreement.calibration.agreement)} of the time on the ${agreement.calibration.pairs} pairs its rules were tuned on, and ${percent(agreement.holdout.agreement)} on ${agreement.holdout.pairs} held-out pairs it never saw. Confirm a decision with the judge.`
        : 'The heuristic is a screening tool, not a judge; confirm a decision with the judge.',
      '',
    );
  }
  const judge = p.judge_alias === null ? 'none' : `${cell(p.judge_alias)} (${cell(p.judge_model_id ?? 'unknown')}), ${p.judge_samples ?? 1} sample${p.judge_samples === 1 ? '' : 's'} per verdict`;
  lines.push(
    `- Scorer: ${p.scorer}; judge: ${judge}`,
    `- Prompt and rubric (or rules) SHA-256: ${p.prompt_sha256 ?? MISSING}`,
    `- Weights: ${CRITERIA.map((criterion) => `${criterion} ${p.weights[criterion]}`).join(', ')}`,
    `- Intervals: paired bootstrap (${p.bootstrap.resamples.toLocaleString('en-US')} resamples, ${p.bootstrap.method === 'bca' ? 'BCa' : 'percentile'}, seed ${p.bootstrap.seed}) and t; p-values from a sign-flip permutation test (exact up to 20 pairs); a weighted difference within ±${p.weighted_tie_band} is a tie`,
    `- Service version: ${cell(p.service_version)}`,
    '',
  );
  return lines;
}

/** The run's headline (unseen items first whenever some were seen in training), then all items, the scorer and operations. */
export function renderSummaryMarkdown(summary: RunSummary, meta: SummaryMeta): string {
  const headlineFirst = summary.headline === 'unseen';
  const partial = partialNotice(summary);
  return [
    `# Evaluation run ${cell(meta.run_id)}`,
    '',
    ...(partial ? [`**${partial}.** The numbers below cover only the answers finished so far.`, ''] : []),
    `Created ${cell(meta.created_at)} · scorer: ${cell(summary.provenance.scorer)} · source: ${cell(meta.source)}`,
    '',
    ...(summary.provenance.rescore_of ? [`Rescore of run ${cell(summary.provenance.rescore_of)}: its stored answers, scored again; no model answered anew.`, ''] : []),
    ...calibrationLines(summary),
    contaminationLine(summary),
    '',
    // A run without a scorer is a human evaluation: the people's numbers are its headline.
    ...(summary.provenance.scorer === 'none' ? humanSectionLines(summary) : []),
    ...(headlineFirst
      ? [...sectionLines('Headline: items not in the training set', summary.unseen, summary), ...sectionLines('All items', summary.all, summary)]
      : sectionLines('Headline: all items', summary.all, summary)),
    ...(summary.provenance.scorer === 'none' ? [] : humanSectionLines(summary)),
    ...scorerLines(summary),
    '## Operations',
    '',
    ...operationsTable(summary.all.models),
    '',
  ].join('\n');
}
