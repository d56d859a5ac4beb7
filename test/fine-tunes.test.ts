import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import t, { type Test } from 'tap';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { AppError } from '../src/errors.js';
import type { FineTuneAliases } from '../src/fine-tunes/job-steps.js';
import { waitForJob, type Job } from './helpers/fine-tune-jobs.js';
import { startFakeOpenAI, type FakeOpenAI } from './helpers/fake-openai.js';

// Fine-tuning jobs through the service, against the fake upstream's Files and fine-tuning APIs: the data check
// before anything is uploaded, one upload per file and one job even across restarts and lost replies, the
// job followed to its end, its model registered under an alias and evaluated.

const KEY = 'sk-test-fine-tunes-0123456789';
const BASE = 'gpt-4.1-mini-2025-04-14';
const TRAINING = readFileSync('data/amazon_electronics_adapted_train.jsonl', 'utf8');
const trainingLines = TRAINING.split('\n').filter(Boolean);

/** Records what would be assigned: the aliases module itself is tested on its own. */
function aliasRecorder() {
  const assigned: Parameters<FineTuneAliases['assign']>[0][] = [];
  return { assigned, assign: async (input: Parameters<FineTuneAliases['assign']>[0]) => void assigned.push(input) };
}

interface Setup {
  fake: FakeOpenAI;
  reportsDir: string;
  modelsFile: string;
}

async function setup(t: Test): Promise<Setup> {
  const fake = await startFakeOpenAI({ apiKey: KEY });
  const reportsDir = mkdtempSync(join(tmpdir(), 'fine-tunes-'));
  // The alias a job registers, so that its evaluation run can call it.
  const modelsFile = join(reportsDir, 'models.json');
  writeFileSync(modelsFile, JSON.stringify({ models: { 'fine-tuned-next': { model_id: `ft:${BASE}:fake-org:next:x` } } }));
  t.teardown(async () => {
    await fake.close();
    rmSync(reportsDir, { recursive: true, force: true });
  });
  return { fake, reportsDir, modelsFile };
}

async function startApp(t: Test, { fake, reportsDir, modelsFile }: Setup, options: { env?: Record<string, string>; aliases?: FineTuneAliases; realAliases?: boolean } = {}) {
  const config = loadConfig({
    OPENAI_API_KEY: KEY,
    OPENAI_BASE_URL: fake.url,
    OPENAI_MAX_RETRIES: '0',
    OPENAI_TIMEOUT_MS: '5000',
    RATE_LIMIT_MAX: '0',
    MAX_EVENT_LOOP_DELAY_MS: '0',
    FINE_TUNE_POLL_MS: '20',
    REPORTS_DIR: reportsDir,
    MODELS_FILE: modelsFile,
    ...options.env,
  });
  const app = await buildApp({ config, logger: false, ...(options.realAliases ? {} : { fineTuneAliases: options.aliases ?? aliasRecorder() }) });
  await app.ready();
  let closed = false;
  t.teardown(async () => {
    if (!closed) await app.close();
  });
  return {
    app,
    close: async () => {
      closed = true;
      await app.close();
    },
  };
}

const post = (app: FastifyInstance, payload: object) => app.inject({ method: 'POST', url: '/fine-tunes', payload });

async function waitForRun(app: FastifyInstance, runId: string): Promise<Job> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const run = (await app.inject(`/evaluate/${runId}`)).json() as Job;
    if (['completed', 'failed', 'cancelled'].includes(run.status)) return run;
    if (Date.now() > deadline) throw new Error(`run ${runId} still ${run.status}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const jobCreates = (fake: FakeOpenAI) => fake.lifecycleRequests.filter((request) => request.method === 'POST' && request.path === '/v1/fine_tuning/jobs');

const request = {
  training: { file: 'amazon_electronics_adapted_train.jsonl' },
  validation: { file: 'amazon_electronics_adapted_val.jsonl' },
  suffix: 'next',
  seed: 7,
  hyperparameters: { n_epochs: 2, batch_size: 64, learning_rate_multiplier: 2 },
  register_as: 'fine-tuned-next',
};

t.test('from the data check to a promoted alias: uploaded once, followed, its model registered, evaluated and promoted', async (t) => {
  const s = await setup(t);
  // The model aliases themselves: the new alias exists only once the job has registered it.
  const { app } = await startApp(t, s, { env: { MODELS_FILE: '' }, realAliases: true });
  t.equal((await app.inject('/models/fine-tuned-next/history')).statusCode, 404, 'no such alias before the job');

  const reply = await post(app, { ...request, evaluate: { prompt_set: 'eval_inquiries.json', scorer: 'heuristic' } });
  t.equal(reply.statusCode, 202, reply.body.slice(0, 500));
  const created = reply.json() as Job;
  t.equal(reply.headers.location, `/fine-tunes/${created.id}`);
  t.match(created, {
    id: /^ftjob_\d{8}T\d{6}Z_[0-9a-f]{6}$/,
    status: 'validating_files',
    step: 'follow',
    base_model: BASE,
    upstream_alias: 'fine-tuned',
    upstream_job_id: /^ftjob-/,
    files: { training: { source: 'amazon_electronics_adapted_train.jsonl', upload_name: `${created.id}-training.jsonl`, upstream_file_id: /^file-/ }, validation: { upstream_file_id: /^file-/ } },
    data_check: { ok: true, leaked_items: 0, overridden: false },
    evaluate: { prompt_set: 'eval_inquiries.json', against: 'fine-tuned', scorer: 'heuristic' },
  });
  t.ok(created.data_check.estimated_tokens > 40_000, `the checker's estimate for 2 epochs (${created.data_check.estimated_tokens})`);
  t.notOk('content' in created.files.training, 'no file content in a reply');

  t.same(s.fake.files.map((file) => [file.filename, file.purpose]), [[`${created.id}-training.jsonl`, 'fine-tune'], [`${created.id}-validation.jsonl`, 'fine-tune']]);
  t.equal(s.fake.files[0]?.content.toString('utf8'), TRAINING, 'the bytes checked are the bytes uploaded');
  t.same(jobCreates(s.fake)[0]?.body, {
    model: BASE,
    training_file: created.files.training.upstream_file_id,
    validation_file: created.files.validation.upstream_file_id,
    suffix: 'next',
    seed: 7,
    method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: 2, batch_size: 64, learning_rate_multiplier: 2 } } },
    metadata: { service_job_id: created.id },
  }, 'the create body as the official spec has it');

  const jobId = created.upstream_job_id as string;
  s.fake.fineTuning.advance(jobId, 'running');
  s.fake.fineTuning.train(jobId, 3);
  const running = await waitForJob(app, created.id, (job) => job.checkpoints.length > 0);
  t.equal(running.status, 'running');
  const metrics = running.events.filter((event: Job) => event.step !== null);
  t.same(metrics.map((event: Job) => event.step), [3, 2, 1], 'metrics events, newest first');
  t.match(metrics[0], { train_loss: Number, valid_loss: Number, message: /Step 3\/\d+: training loss=/ });
  t.match(running.checkpoints[0], { step_number: 3, fine_tuned_model_checkpoint: /ckpt-step-3$/, metrics: { train_loss: Number, full_valid_loss: Number } });

  s.fake.fineTuning.advance(jobId, 'succeeded');
  const done = await waitForJob(app, created.id, (job) => job.step === 'done');
  const model = s.fake.fineTuning.created[0]?.fineTunedModel;
  t.match(done, { status: 'succeeded', fine_tuned_model: model, registered_alias: 'fine-tuned-next', evaluation_run_id: /^run_/, error: null, follow_up_error: null, finished_at: String });
  t.ok(done.trained_tokens > 0, `trained tokens beside the estimate (${done.trained_tokens} vs ${done.data_check.estimated_tokens})`);
  t.equal(new Set(done.events.map((event: Job) => event.id)).size, done.events.length, 'each event kept once across polls');
  const registered = (await app.inject('/models/fine-tuned-next/history')).json();
  t.match(registered.assignments, [{ alias: 'fine-tuned-next', model_id: model, assigned_by: `fine-tune ${created.id}`, reason: 'fine_tune', fine_tune_id: created.id, like: 'fine-tuned' }]);
  t.equal(registered.assignments.length, 1, 'registered once');
  const run = await waitForRun(app, done.evaluation_run_id);
  t.same(run.models.map((entry: Job) => entry.alias), ['fine-tuned-next', 'fine-tuned'], 'the new alias evaluated against the current one');
  t.equal(run.status, 'completed');

  const promoted = await app.inject({ method: 'POST', url: '/models/fine-tuned/promote', payload: { model: 'fine-tuned-next', reason: 'the evaluation' } });
  t.equal(promoted.statusCode, 200, promoted.body.slice(0, 500));
  t.match(promoted.json(), { assignment: { alias: 'fine-tuned', model_id: model, reason: 'promote' }, evaluation: { run_id: done.evaluation_run_id } });
  t.equal((await app.inject('/models')).json().models.find((entry: Job) => entry.alias === 'fine-tuned').model_id, model, 'fine-tuned now answers with the new model');

  t.equal(s.fake.files.length, 2, 'one upload per file');
  t.equal(s.fake.fineTuning.created.length, 1, 'one job');
  const stored = readFileSync(join(s.reportsDir, 'fine-tunes', `${created.id}.json`), 'utf8');
  t.notMatch(stored, KEY, 'the API key is never in the record');
  t.same(JSON.parse(stored).files.training.content, null, 'the file content is dropped once uploaded');
  t.notOk(readdirSync(join(s.reportsDir, 'fine-tunes')).some((name) => name.endsWith('.partial')), 'written atomically');

  const listed = (await app.inject('/fine-tunes')).json();
  t.same(listed.fine_tunes.map((job: Job) => job.id), [created.id]);
  t.equal(listed.next_cursor, null);

  // A process that died after starting the evaluation and before recording it: the step is taken up again.
  const path = join(s.reportsDir, 'fine-tunes', `${created.id}.json`);
  const record = JSON.parse(readFileSync(path, 'utf8'));
  writeFileSync(path, JSON.stringify({ ...record, step: 'evaluate', evaluation_run_id: null, version: record.version + 1 }));
  const again = await waitForJob(app, created.id, (job) => job.step === 'done');
  t.equal(again.evaluation_run_id, done.evaluation_run_id, 'the evaluation it had started is found again');
  const runs = (await app.inject('/evaluate')).json().runs as Job[];
  t.equal(runs.filter((entry) => entry.models[0].alias === 'fine-tuned-next').length, 1, 'and no second one is started');
});

t.test('leaked validation data: 422 with the report and nothing uploaded, unless the request overrides the check', async (t) => {
  const s = await setup(t);
  const { app } = await startApp(t, s);
  const leaked = `${trainingLines.slice(0, 3).join('\n')}\n`;
  const body = { ...request, validation: { jsonl: leaked } };

  const refused = await post(app, body);
  t.equal(refused.statusCode, 422);
  t.match(refused.json().error, { code: 'data_check_failed', message: /3 items leaked from training; nothing was uploaded/, details: { ok: true, leakage: { count: 3, by_kind: { exact: 3 } } } });
  t.equal(s.fake.files.length, 0, 'nothing uploaded');
  t.equal(s.fake.fineTuning.created.length, 0, 'no job');

  const broken = await post(app, { ...request, training: { jsonl: '{"messages": [{"role": "user", "content": "hi"}]}\nnot json\n' }, validation: undefined });
  t.equal(broken.statusCode, 422, 'a file with format errors');
  t.match(broken.json().error, { code: 'data_check_failed', message: /format errors/, details: { ok: false } });

  const overridden = await post(app, { ...body, override_data_check: true });
  t.equal(overridden.statusCode, 202);
  t.match(overridden.json(), { data_check: { leaked_items: 3, overridden: true }, files: { validation: { source: 'inline', upstream_file_id: /^file-/ } } });
  t.equal(s.fake.files[1]?.content.toString('utf8'), leaked);
});

t.test('bad input is a clear 4xx in the one error shape, before anything is uploaded', async (t) => {
  const s = await setup(t);
  const { app } = await startApp(t, s);
  const cases: Array<[string, object, number, string, RegExp?]> = [
    ['an unknown base model', { ...request, base_model: 'gpt-4.1-mini-2099' }, 400, 'unknown_base_model', /no model 'gpt-4\.1-mini-2099'/],
    ['a data file that is not there', { ...request, training: { file: 'nope.jsonl' } }, 400, 'data_file_not_found', /amazon_electronics_adapted_train\.jsonl/],
    ['a path out of the data folder', { ...request, training: { file: '../package.jsonl' } }, 400, 'validation_error'],
    ['an offline upstream', { ...request, upstream: 'retrieval' }, 400, 'no_fine_tuning_upstream'],
    ['an offline alias to register', { ...request, register_as: 'handoff' }, 400, 'offline_alias'],
    ['an unknown upstream alias', { ...request, upstream: 'nobody' }, 400, 'unknown_model'],
    ['an unknown prompt set to evaluate on', { ...request, evaluate: { prompt_set: 'holiday.json' } }, 400, 'unknown_prompt_set'],
    ['an epoch count past the spec', { ...request, hyperparameters: { n_epochs: 51 } }, 400, 'validation_error'],
    ['no alias to register', { training: request.training }, 400, 'validation_error'],
    ['an unknown field', { ...request, model: BASE }, 400, 'validation_error'],
  ];
  for (const [name, body, status, code, message] of cases) {
    const reply = await post(app, body);
    t.equal(reply.statusCode, status, name);
    t.match(reply.json(), { error: { code, message: message ?? String } }, name);
  }
  t.equal(s.fake.files.length, 0, 'nothing uploaded');
  t.equal(s.fake.fineTuning.created.length, 0);

  t.match((await app.inject('/fine-tunes/ftjob_20261202T070000Z_ab12cd')).json(), { error: { code: 'fine_tune_not_found' } });
  t.equal((await app.inject('/fine-tunes/ftjob_20261202T070000Z_ab12cd')).statusCode, 404);
  t.equal((await app.inject('/fine-tunes?cursor=ftjob_20261202T070000Z_ab12cd')).json().error.code, 'invalid_cursor');

  const keyless = await startApp(t, s, { env: { OPENAI_API_KEY: '' } });
  const missing = await post(keyless.app, request);
  t.equal(missing.statusCode, 503);
  t.match(missing.json().error, { code: 'missing_api_key', message: /OPENAI_API_KEY/ });
});

t.test('a restart after a lost upload reply finds the file upstream instead of uploading it again', async (t) => {
  const s = await setup(t);
  const first = await startApp(t, s, { env: { FINE_TUNE_POLL_MS: '3600000' } });
  // The model check answers; the training upload is made upstream, and its reply lost.
  s.fake.lifecycleQueue.push({}, { loseReply: true });
  const reply = await post(first.app, request);
  t.equal(reply.statusCode, 202, 'the outcome is unknown, not a failure');
  const pending = reply.json() as Job;
  t.match(pending, { status: 'uploading_files', step: 'upload', files: { training: { upstream_file_id: null } }, upstream_job_id: null });
  await first.close();

  const second = await startApp(t, s);
  const resumed = await waitForJob(second.app, pending.id, (job) => job.step === 'follow');
  t.equal(resumed.files.training.upstream_file_id, s.fake.files[0]?.id, 'the file the lost reply was about');
  t.same(s.fake.files.map((file) => file.filename), [`${pending.id}-training.jsonl`, `${pending.id}-validation.jsonl`], 'one upload per file');
  t.equal(s.fake.fineTuning.created.length, 1, 'one job');
});

t.test('a restart after a lost create reply finds the job by its metadata, follows it and registers it once', async (t) => {
  const s = await setup(t);
  const aliases = aliasRecorder();
  const first = await startApp(t, s, { env: { FINE_TUNE_POLL_MS: '3600000' } });
  // The model check and both uploads answer; the job is created upstream and the reply lost.
  s.fake.lifecycleQueue.push({}, {}, {}, { loseReply: true });
  const reply = await post(first.app, request);
  t.equal(reply.statusCode, 202);
  const pending = reply.json() as Job;
  t.match(pending, { status: 'creating_job', step: 'create', create_started: true, upstream_job_id: null });
  t.equal(s.fake.fineTuning.created.length, 1, 'the job exists upstream');
  await first.close();

  const second = await startApp(t, s, { aliases });
  const found = await waitForJob(second.app, pending.id, (job) => job.upstream_job_id !== null);
  t.equal(found.upstream_job_id, s.fake.fineTuning.created[0]?.id);
  t.match(s.fake.lifecycleRequests.find((call) => call.method === 'GET' && call.path === '/v1/fine_tuning/jobs'), { query: { 'metadata[service_job_id]': pending.id } });
  s.fake.fineTuning.advance(found.upstream_job_id, 'succeeded');
  const done = await waitForJob(second.app, pending.id, (job) => job.step === 'done');
  t.match(done, { status: 'succeeded', registered_alias: 'fine-tuned-next', evaluation_run_id: null });
  t.equal(s.fake.files.length, 2, 'one upload per file');
  t.equal(jobCreates(s.fake).length, 1, 'one create sent');
  t.equal(s.fake.fineTuning.created.length, 1, 'one job');
  t.equal(aliases.assigned.length, 1, 'registered once');
});

t.test('a failed job shows its error object; a refused upload fails the job at once', async (t) => {
  const s = await setup(t);
  const aliases = aliasRecorder();
  const { app } = await startApp(t, s, { aliases });
  const created = (await post(app, request)).json() as Job;
  s.fake.fineTuning.advance(created.upstream_job_id, 'running');
  s.fake.fineTuning.advance(created.upstream_job_id, 'failed', { code: 'exceeded_quota', message: 'Quota exceeded.', param: null });
  const failed = await waitForJob(app, created.id, (job) => job.step === 'done');
  t.match(failed, { status: 'failed', error: { code: 'exceeded_quota', message: 'Quota exceeded.', param: null }, fine_tuned_model: null, registered_alias: null, finished_at: String });
  t.equal(failed.events[0].level, 'error');
  t.equal(aliases.assigned.length, 0, 'nothing registered');

  s.fake.lifecycleQueue.push({}, { status: 400, errorBody: { error: { message: 'Invalid file format.', type: 'invalid_request_error', param: 'file', code: null } } });
  const refused = await post(app, request);
  t.equal(refused.statusCode, 502);
  const { error } = refused.json();
  t.match(error, { code: 'upstream_error', upstream_status: 400, message: /Invalid file format/, details: { fine_tune_id: /^ftjob_/ } });
  t.match((await app.inject(`/fine-tunes/${error.details.fine_tune_id}`)).json(), { status: 'failed', step: 'done', error: { code: 'upstream_error', message: /Invalid file format/ } });
});

t.test('cancel: the job is cancelled upstream; an ended job is a 409; the list pages newest first', async (t) => {
  const s = await setup(t);
  const { app } = await startApp(t, s);
  const older = (await post(app, request)).json() as Job;
  const newer = (await post(app, { ...request, suffix: 'newer' })).json() as Job;

  const cancelled = await app.inject({ method: 'DELETE', url: `/fine-tunes/${newer.id}` });
  t.equal(cancelled.statusCode, 200);
  t.match(cancelled.json(), { id: newer.id, status: 'cancelled', step: 'done', finished_at: String });
  t.equal(s.fake.fineTuning.created[1]?.status, 'cancelled', 'cancelled upstream');
  const again = await app.inject({ method: 'DELETE', url: `/fine-tunes/${newer.id}` });
  t.equal(again.statusCode, 409);
  t.equal(again.json().error.code, 'fine_tune_finished');

  const first = (await app.inject('/fine-tunes?limit=1')).json();
  t.same(first.fine_tunes.map((job: Job) => job.id), [newer.id], 'newest first');
  const second = (await app.inject(`/fine-tunes?limit=1&cursor=${first.next_cursor}`)).json();
  t.same(second.fine_tunes.map((job: Job) => job.id), [older.id]);
  t.equal(second.next_cursor, null);
});

t.test('cancel before the job exists: at once when nothing was created, upstream when a lost create made it', async (t) => {
  const s = await setup(t);
  const { app, close } = await startApp(t, s, { env: { FINE_TUNE_POLL_MS: '3600000' } });
  s.fake.lifecycleQueue.push({}, { status: 500 });
  const uploading = (await post(app, request)).json() as Job;
  t.match(uploading, { status: 'uploading_files', step: 'upload' }, 'a 500 on the upload leaves the step for the follower');
  const local = await app.inject({ method: 'DELETE', url: `/fine-tunes/${uploading.id}` });
  t.match(local.json(), { status: 'cancelled', step: 'done', upstream_job_id: null });

  s.fake.lifecycleQueue.push({}, {}, {}, { loseReply: true });
  const creating = (await post(app, request)).json() as Job;
  t.equal(creating.status, 'creating_job');
  const cancelled = (await app.inject({ method: 'DELETE', url: `/fine-tunes/${creating.id}` })).json();
  t.match(cancelled, { status: 'cancelled', step: 'done', upstream_job_id: s.fake.fineTuning.created[0]?.id });
  t.equal(s.fake.fineTuning.created[0]?.status, 'cancelled', 'the job the lost reply made is cancelled upstream');

  const ended = (await post(app, request)).json() as Job;
  s.fake.fineTuning.advance(ended.upstream_job_id, 'succeeded');
  const tooLate = await app.inject({ method: 'DELETE', url: `/fine-tunes/${ended.id}` });
  t.equal(tooLate.statusCode, 409, 'ended upstream since the last poll');
  t.match(tooLate.json().error, { code: 'fine_tune_finished', message: /already ended upstream/ });
  await close();

  // A follower that starts now finds nothing left to do for either.
  const next = await startApp(t, s);
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.equal(s.fake.fineTuning.created.length, 2, 'no job created for the cancelled ones');
  t.match((await next.app.inject(`/fine-tunes/${uploading.id}`)).json(), { status: 'cancelled', files: { training: { upstream_file_id: null } } });
});

t.test('registering: a refusal is recorded and ends the follow-up; any other failure is tried again', async (t) => {
  const s = await setup(t);
  let calls = 0;
  const flaky: FineTuneAliases = {
    assign: async () => {
      calls += 1;
      if (calls === 1) throw new Error('the alias store is away');
      throw new AppError(400, 'offline_alias', "'retrieval' is an offline model.");
    },
  };
  const { app } = await startApp(t, s, { aliases: flaky });
  const created = (await post(app, { ...request, evaluate: { prompt_set: 'eval_inquiries' } })).json() as Job;
  s.fake.fineTuning.advance(created.upstream_job_id, 'succeeded');
  const done = await waitForJob(app, created.id, (job) => job.step === 'done');
  t.equal(calls, 2, 'tried again after the first failure');
  t.match(done, { status: 'succeeded', registered_alias: null, evaluation_run_id: null, follow_up_error: { code: 'offline_alias', message: /offline model/ } });
});

t.test('the upstream failing the model check is its error; a DATA_DIR link out of the folder is not read', async (t) => {
  const s = await setup(t);
  const dataDir = mkdtempSync(join(tmpdir(), 'fine-tune-data-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  symlinkSync(join(process.cwd(), 'data', 'amazon_electronics_adapted_train.jsonl'), join(dataDir, 'amazon_electronics_adapted_train.jsonl'));
  symlinkSync(join(process.cwd(), 'data', 'prompt_sets'), join(dataDir, 'prompt_sets'));
  writeFileSync(join(s.reportsDir, 'secret.jsonl'), TRAINING);
  symlinkSync(join(s.reportsDir, 'secret.jsonl'), join(dataDir, 'outside.jsonl'));
  const { app } = await startApp(t, s, { env: { DATA_DIR: dataDir } });

  const outside = await post(app, { ...request, training: { file: 'outside.jsonl' }, validation: undefined });
  t.equal(outside.statusCode, 400);
  t.match(outside.json().error, { code: 'data_file_not_found', details: { file: 'outside.jsonl' } });

  s.fake.lifecycleQueue.push({ status: 500 });
  const failing = await post(app, request);
  t.equal(failing.statusCode, 502);
  t.match(failing.json().error, { code: 'upstream_error', upstream_status: 500 });
  t.equal(s.fake.files.length, 0, 'nothing uploaded');
});

t.test('a restart after the uploads and a failed create: the files are not uploaded again, the job is created once', async (t) => {
  const s = await setup(t);
  const first = await startApp(t, s, { env: { FINE_TUNE_POLL_MS: '3600000' } });
  // The model check and both uploads answer; the create meets a 500, which creates nothing.
  s.fake.lifecycleQueue.push({}, {}, {}, { status: 500 });
  const pending = (await post(first.app, request)).json() as Job;
  t.match(pending, { status: 'creating_job', step: 'create', files: { training: { upstream_file_id: /^file-/ }, validation: { upstream_file_id: /^file-/ } } });
  t.equal(s.fake.fineTuning.created.length, 0);
  await first.close();

  const second = await startApp(t, s);
  const created = await waitForJob(second.app, pending.id, (job) => job.upstream_job_id !== null);
  t.equal(created.upstream_job_id, s.fake.fineTuning.created[0]?.id);
  t.equal(s.fake.files.length, 2, 'one upload per file');
  t.equal(jobCreates(s.fake).length, 2, 'the refused create, then one more after looking for it');
  t.equal(s.fake.fineTuning.created.length, 1, 'one job');
});

t.test('a cancel while the create is on its way: the job it makes is cancelled upstream as soon as it exists', async (t) => {
  const s = await setup(t);
  const { app } = await startApp(t, s);
  // The model check and both uploads answer at once; the create takes 300 ms.
  s.fake.lifecycleQueue.push({}, {}, {}, { latencyMs: 300 });
  const posting = post(app, request);
  let pending: Job | undefined;
  while (pending === undefined) {
    pending = ((await app.inject('/fine-tunes')).json().fine_tunes as Job[]).find((job) => job.create_started);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const cancelled = await app.inject({ method: 'DELETE', url: `/fine-tunes/${pending.id}` });
  t.match(cancelled.json(), { status: 'cancelled', upstream_job_id: null }, 'no job yet to cancel');
  const reply = await posting;
  t.match(reply.json(), { id: pending.id, status: 'cancelled', step: 'done', upstream_job_id: s.fake.fineTuning.created[0]?.id });
  t.equal(s.fake.fineTuning.created[0]?.status, 'cancelled', 'the job the create made is cancelled upstream');
});

t.test('an API-only process follows no job; a worker on the same store does, and serves no /fine-tunes', async (t) => {
  const s = await setup(t);
  const aliases = aliasRecorder();
  const api = await startApp(t, s, { env: { ROLE: 'api' }, aliases });
  const created = (await post(api.app, request)).json() as Job;
  s.fake.fineTuning.advance(created.upstream_job_id, 'succeeded');
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.match((await api.app.inject(`/fine-tunes/${created.id}`)).json(), { status: 'validating_files', step: 'follow' }, 'not polled by the API process');

  const worker = await startApp(t, s, { env: { ROLE: 'worker' }, aliases });
  t.equal((await worker.app.inject(`/fine-tunes/${created.id}`)).statusCode, 404, 'a worker answers only the probes');
  const done = await waitForJob(api.app, created.id, (job) => job.step === 'done');
  t.match(done, { status: 'succeeded', registered_alias: 'fine-tuned-next' });
  t.equal(aliases.assigned.length, 1);
});
