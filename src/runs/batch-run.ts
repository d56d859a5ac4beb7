/**
 * Executes a batch run (`mode: "batch"`): the answers, then the judge's verdicts (the rubric judge's on each
 * answer, or the pairwise judge's on each pair once every answer is in), go through OpenAI's Batch API, one input
 * file and one batch per (phase, model, part). Each step upstream is written to the run's record before it is
 * taken (its intent) and after (its outcome), so that a run resumed after a restart finds upstream what it may
 * already have done (batch-upstream.ts) instead of doing it twice. Offline models answer locally; heuristic
 * scoring is local.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { OpenAI } from 'openai';
import type { Batch } from 'openai/resources/batches';
import type { SummaryAccumulator } from '../export/summary.js';
import { mapUpstreamError } from '../errors.js';
import { pinnedEntry, type OpenAIModelEntry } from '../models/registry.js';
import { judgeEntry } from '../scoring/judge-call.js';
import { batchAnswersOf, callSynchronously, collectAnswerPart, collectJudgePart, judgedItemsOf, type BatchCollection, type SynchronousCall } from './batch-collect.js';
import { answerLine, BATCH_MAX_BYTES, endpointOf, jsonlOf, judgeLines, splitIntoParts } from './batch-lines.js';
import { FINISHED_BATCH_STATUSES, partFilename, partKey, plannedPart, type BatchPart, type BatchPhase, type BatchRunState } from './batch-state.js';
import { findOrCreateBatch, findOrUploadFile } from './batch-upstream.js';
import { collectVerdictPart, verdictUnitsOf } from './batch-verdicts.js';
import { isRetryable } from '../models/upstream-http.js';
import { createPairWork, type RunSink } from './pair-work.js';
import { scanRun, type ActiveRun, type RunExecutorDeps, type RunScan } from './run-executor.js';
import type { RunItem } from './run-result.js';
import { resultKey } from './run-store.js';

export type BatchRunDeps = RunExecutorDeps & {
  config: RunExecutorDeps['config'] & { BATCH_POLL_MS: number; BATCH_MAX_REQUESTS: number };
};

interface BatchDrive extends BatchCollection {
  deps: BatchRunDeps;
  /** Writes the record (and so the batch state); false when the service stopped first. */
  save: () => Promise<boolean>;
}

/**
 * The upstream a part's requests go to: the judge's, or the answering alias's with the model the run was created
 * with (an alias re-pointed since answers with its former model, as in a live run).
 */
function entryOf(drive: BatchDrive, part: Pick<BatchPart, 'phase' | 'alias'>): OpenAIModelEntry {
  if (part.phase !== 'answer') return judgeOf(drive);
  return pinnedEntry(drive.deps.registry.resolve(part.alias) as OpenAIModelEntry, drive.record.models.find((model) => model.alias === part.alias)?.model_id);
}

/** The run's judge, with the model it was created with. */
const judgeOf = (drive: BatchDrive) => judgeEntry(drive.deps.registry, drive.record.judge, drive.record.provenance?.judge_model_id);

const clientOf = (drive: BatchDrive, part: Pick<BatchPart, 'phase' | 'alias'>): OpenAI => drive.deps.clients.clientFor(entryOf(drive, part), 'batch');

/**
 * Per model of the phase, its units: one answer line per item, the judge's samples of each batch answer, or the
 * pairwise judge's lines of each item both the first model and this one answered.
 */
async function unitsOf(drive: BatchDrive, phase: BatchPhase, alias: string): Promise<string[][]> {
  if (phase === 'verdict') return verdictUnitsOf(drive, judgeOf(drive), alias);
  const entry = entryOf(drive, { phase: 'answer', alias });
  if (phase === 'answer') return drive.items.map((item) => [answerLine(entry, item)]);
  const answers = await batchAnswersOf(drive, alias, entry, clientOf(drive, { phase: 'answer', alias }));
  const judge = judgeOf(drive);
  return judgedItemsOf(drive, answers).map((item) => judgeLines(judge, item, alias, answers.get(item.item_id)?.answer ?? '', drive.record.judge_samples));
}

const upstreamAliases = (drive: BatchDrive) => drive.record.models.filter((model) => drive.deps.registry.resolve(model.alias).kind === 'openai').map((model) => model.alias);

/** The models a phase has parts for: each upstream model's answers and judged answers; pairwise, each model compared with the first. */
const aliasesOf = (drive: BatchDrive, phase: BatchPhase) => (phase === 'verdict' ? drive.record.models.slice(1).map((model) => model.alias) : upstreamAliases(drive));

/** The phase's parts, split by the Batch API's limits; planned once, then kept in the record. */
async function planPhase(drive: BatchDrive, phase: BatchPhase): Promise<void> {
  const limits = { maxRequests: drive.deps.config.BATCH_MAX_REQUESTS, maxBytes: BATCH_MAX_BYTES };
  for (const alias of aliasesOf(drive, phase)) {
    splitIntoParts(await unitsOf(drive, phase, alias), limits).forEach((range, index) => drive.state.parts.push(plannedPart(phase, alias, index, range)));
  }
}

/** The part's input file, rebuilt byte for byte from the run's items (and, for the judge, the answers' output files). */
async function contentOf(drive: BatchDrive, part: BatchPart): Promise<string> {
  const units = await unitsOf(drive, part.phase, part.alias);
  return jsonlOf(units.slice(part.first_item, part.first_item + part.items).flat());
}

function follow(part: BatchPart, batch: Batch): boolean {
  const counts = batch.request_counts ? { total: batch.request_counts.total, completed: batch.request_counts.completed, failed: batch.request_counts.failed } : null;
  const changed = part.status !== batch.status || JSON.stringify(part.request_counts) !== JSON.stringify(counts) || part.output_file_id !== (batch.output_file_id ?? null);
  part.batch_id = batch.id;
  part.status = batch.status;
  part.request_counts = counts;
  part.output_file_id = batch.output_file_id ?? null;
  part.error_file_id = batch.error_file_id ?? null;
  return changed;
}

/** Takes the part as far as it goes without waiting on the upstream; false when the service stopped first. */
async function advance(drive: BatchDrive, part: BatchPart): Promise<boolean> {
  const { record, signal, save } = drive;
  const entry = entryOf(drive, part);
  const client = clientOf(drive, part);
  if (part.step === 'planned') {
    part.step = 'uploading';
    if (!(await save())) return false;
  }
  if (part.step === 'uploading') {
    part.file_id = await findOrUploadFile(client, partFilename(record.run_id, part), () => contentOf(drive, part), signal);
    part.step = 'uploaded';
    if (!(await save())) return false;
  }
  if (part.step === 'uploaded') {
    part.step = 'creating';
    if (!(await save())) return false;
  }
  if (part.step === 'creating') {
    const since = Math.floor(Date.parse(record.created_at) / 1000);
    const batch = await findOrCreateBatch(client, { input_file_id: part.file_id as string, endpoint: endpointOf(entry) }, { run_id: record.run_id, part: partKey(part), since }, signal);
    follow(part, batch);
    part.step = 'created';
    if (!(await save())) return false;
  }
  if (part.step === 'created' && !FINISHED_BATCH_STATUSES.includes(part.status ?? '')) {
    if (follow(part, await client.batches.retrieve(part.batch_id as string, { signal })) && !(await save())) return false;
  }
  if (part.step === 'created' && FINISHED_BATCH_STATUSES.includes(part.status ?? '')) {
    if (!(await collectPart(drive, part, entry, client))) return false;
    part.step = 'collected';
    if (!(await save())) return false;
  }
  return true;
}

/** Records what a finished part's lines give; false when the run was stopped first. */
async function collectPart(drive: BatchDrive, part: BatchPart, entry: OpenAIModelEntry, client: OpenAI): Promise<boolean> {
  if (part.phase === 'answer') return collectAnswerPart(drive, part, entry, client);
  if (part.phase === 'verdict') return collectVerdictPart(drive, part, entry, client);
  // The judge phase reads the answers it judged again from the answer batches' output files.
  const answering = { phase: 'answer', alias: part.alias } as const;
  return collectJudgePart(drive, part, entry, await batchAnswersOf(drive, part.alias, entryOf(drive, answering), clientOf(drive, answering)), client);
}

/** Drives the phase's parts until every one is collected; false when the run was stopped first. */
async function runPhase(drive: BatchDrive, phase: BatchPhase): Promise<boolean> {
  const { state, signal, deps, record } = drive;
  if (!state.parts.some((part) => part.phase === phase)) {
    await planPhase(drive, phase);
    if (!(await drive.save())) return false;
  }
  const parts = state.parts.filter((part) => part.phase === phase);
  for (;;) {
    for (const part of parts) {
      if (part.step === 'collected') continue;
      try {
        if (!(await advance(drive, part))) return false;
      } catch (error) {
        if (signal.aborted) return false;
        // An outage, a rate limit or a lost reply (the SDK's rule for a retry): the step is looked for again at the
        // next poll, never blindly repeated. Anything else (a refused request, a missing key) fails the run.
        if (!isRetryable(error)) throw mapUpstreamError(error, part.alias);
        deps.log.warn({ run_id: record.run_id, part: partKey(part), step: part.step, code: mapUpstreamError(error, part.alias).code }, 'batch run: an upstream step failed; trying again at the next poll');
      }
    }
    if (parts.every((part) => part.step === 'collected')) return true;
    await sleep(deps.config.BATCH_POLL_MS, undefined, { signal }).catch(() => undefined);
    if (signal.aborted) return false;
  }
}

/** Cancels the run's batches still going upstream (DELETE /evaluate/{id}); what they finished is not collected. */
async function cancelBatches(drive: BatchDrive): Promise<void> {
  for (const part of drive.state.parts) {
    if (part.step !== 'created' || FINISHED_BATCH_STATUSES.includes(part.status ?? '') || part.status === 'cancelling') continue;
    try {
      follow(part, await clientOf(drive, part).batches.cancel(part.batch_id as string));
    } catch (error) {
      drive.deps.log.warn({ run_id: drive.record.run_id, batch_id: part.batch_id, err: error }, 'batch run: could not cancel a batch upstream');
    }
  }
  await drive.save();
}

/** Offline models answer each item here, as in a live run. */
async function answerOffline(drive: BatchDrive): Promise<boolean> {
  for (const model of drive.record.models) {
    if (drive.deps.registry.resolve(model.alias).kind === 'openai') continue;
    for (const item of drive.items) {
      if (drive.signal.aborted) return false;
      if (drive.finished.has(resultKey(item.item_id, model.alias))) continue;
      await drive.work.pair(item, model, drive.signal, { mayDefer: false });
    }
  }
  return !drive.signal.aborted;
}

/**
 * Pairwise, after the verdict phase: the verdicts no batch gave, those of an item one of the two models gave no
 * answer to, recorded failed (no_answer) without asking the judge, as in a live run.
 */
async function giveVerdicts(drive: BatchDrive): Promise<void> {
  const { record, items, signal, work } = drive;
  const scan = await scanRun(drive.deps.store, record);
  const verdicts: SynchronousCall[] = [];
  for (const item of items) {
    const answers = new Map(record.models.map((model) => [model.alias, scan.answers.get(resultKey(item.item_id, model.alias)) ?? null]));
    for (const other of record.models.slice(1)) {
      if (!scan.judged.has(resultKey(item.item_id, other.alias))) verdicts.push(async () => void (await work.verdict(item, other, answers, signal)));
    }
  }
  await callSynchronously(drive, verdicts);
}

/**
 * Writes the run's record with its batch state, unless another process moved the run out of running meanwhile
 * (a cancel through a replica or the CLI): writing then would put the old status back. The run is stopped
 * instead, as a cancel seen by its status watch would. False when nothing was written.
 */
function batchStateSaver(deps: BatchRunDeps, run: ActiveRun, stored: (write: () => Promise<void>) => Promise<boolean>): () => Promise<boolean> {
  const { record } = run;
  return async () => {
    let written = false;
    const done = await stored(async () => {
      const current = await deps.store.readRecord(record.run_id);
      if (current?.status !== record.status) {
        if (current?.status === 'cancelled') run.cancelled = true;
        run.controller.abort();
        return;
      }
      await deps.store.writeRecord(record);
      written = true;
    });
    return done && written;
  };
}

/**
 * Executes a batch run until it is done or stopped; the caller writes the exports and the status, as for a live
 * run. `stored` does a write, waiting for storage that is full or away; false when the service stopped first.
 */
export async function executeBatchRun(
  deps: BatchRunDeps,
  run: ActiveRun,
  summary: SummaryAccumulator | null,
  scan: RunScan,
  stored: (write: () => Promise<void>) => Promise<boolean>,
): Promise<void> {
  const { record } = run;
  const signal = run.controller.signal;
  const save = batchStateSaver(deps, run, stored);
  const sink: RunSink = { recorder: await deps.store.recorder(record.run_id), summary, progress: run.progress, storage: run.storage, signal };
  const items: RunItem[] = [];
  for await (const item of deps.store.items(record.run_id)) items.push(item);
  const drive: BatchDrive = {
    deps,
    record,
    state: record.batch as BatchRunState,
    items,
    finished: scan.finished,
    work: createPairWork(deps, record, sink),
    sink,
    signal,
    log: deps.log,
    batchAnswers: new Map(),
    judged: scan.judged,
    recordedAnswers: null,
    save,
  };
  try {
    if (!(await answerOffline(drive)) || !(await runPhase(drive, 'answer'))) return;
    if (record.scorer === 'judge' && !(await runPhase(drive, 'judge'))) return;
    if (record.scorer === 'pairwise' && (await runPhase(drive, 'verdict'))) await giveVerdicts(drive);
  } finally {
    if (run.cancelled) await cancelBatches(drive);
    await sink.recorder.close();
  }
}
