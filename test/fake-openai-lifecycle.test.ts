/**
 * The fake OpenAI server speaks the model-lifecycle endpoints (files, fine-tuning jobs, batches,
 * models) as the official SDK sends and parses them, is as strict as the real API, and lets a test
 * drive jobs through their statuses without the wall clock.
 */
import OpenAI, { toFile } from 'openai';
import t, { type Test } from 'tap';
import { startFakeOpenAI, type FakeOpenAIOptions } from './helpers/fake-openai.js';

const KEY = 'sk-test-lifecycle-0123456789';
const BASE = 'gpt-4.1-mini-2025-04-14';

async function setup(t: Test, options: FakeOpenAIOptions = {}) {
  const fake = await startFakeOpenAI({ apiKey: KEY, ...options });
  t.teardown(() => fake.close());
  const client = new OpenAI({ apiKey: KEY, baseURL: fake.url, maxRetries: 0 });
  return { fake, client };
}

/** An SDK APIError with this status (its message starts with it) and these fields (code, param, type...). */
const apiError = (status: number, fields: object = {}) => ({ status, message: new RegExp(`^${status} `), ...fields });
const jsonl = (rows: unknown[]) => rows.map((row) => JSON.stringify(row)).join('\n') + '\n';
const readJsonl = (text: string) => text.trim().split('\n').map((row) => JSON.parse(row) as Record<string, any>);
const chatExample = (i: number) => ({ messages: [{ role: 'user', content: `Where is order ${i}?` }, { role: 'assistant', content: `Order ${i} ships today.` }] });
const TRAINING = jsonl([0, 1, 2, 3].map(chatExample));

async function upload(client: OpenAI, text: string, purpose: 'fine-tune' | 'batch', name = 'data.jsonl') {
  return client.files.create({ file: await toFile(Buffer.from(text), name), purpose });
}

const responsesLine = (customId: string, input: string, extra: Record<string, unknown> = {}) => ({
  custom_id: customId,
  method: 'POST',
  url: '/v1/responses',
  body: { model: BASE, input, ...extra },
});
const chatLine = (customId: string, content: string, extra: Record<string, unknown> = {}) => ({
  custom_id: customId,
  method: 'POST',
  url: '/v1/chat/completions',
  body: { model: BASE, messages: [{ role: 'user', content }], ...extra },
});

async function contentOf(client: OpenAI, fileId: string | null | undefined) {
  if (!fileId) return [];
  return readJsonl(await (await client.files.content(fileId)).text());
}

t.test('Files: an SDK upload is stored and recorded, then retrieved, listed, downloaded and deleted', async (t) => {
  const { fake, client } = await setup(t);
  const training = await client.files.create({
    file: await toFile(Buffer.from(TRAINING), 'train.jsonl'),
    purpose: 'fine-tune',
    expires_after: { anchor: 'created_at', seconds: 3600 },
  });
  t.match(training, { id: /^file-/, object: 'file', bytes: Buffer.byteLength(TRAINING), filename: 'train.jsonl', purpose: 'fine-tune', status: 'processed' });
  t.equal(training.expires_at, training.created_at + 3600, 'expires_after is applied');
  const batchInput = await upload(client, jsonl([responsesLine('a', 'hi')]), 'batch', 'input.jsonl');
  t.equal(batchInput.expires_at, batchInput.created_at + 30 * 24 * 3600, 'batch files expire after 30 days by default');

  t.equal(fake.files.length, 2, 'uploads are recorded');
  t.match(fake.files[0], { id: training.id, filename: 'train.jsonl', purpose: 'fine-tune', bytes: training.bytes, deleted: false });
  t.equal(fake.files[0]?.content.toString('utf8'), TRAINING, 'the recorded content is the uploaded bytes');

  t.same(await client.files.retrieve(training.id), training);
  t.equal(await (await client.files.content(training.id)).text(), TRAINING, 'content returns the bytes');

  const listed = [];
  for await (const file of client.files.list()) listed.push(file.id);
  t.same(listed, [batchInput.id, training.id], 'listed newest first by default');
  t.same((await client.files.list({ purpose: 'fine-tune' })).data.map((f) => f.id), [training.id], 'filtered by purpose');
  t.same((await client.files.list({ order: 'asc', limit: 1 })).data.map((f) => f.id), [training.id], 'order and limit');

  t.same(await client.files.delete(training.id), { id: training.id, object: 'file', deleted: true });
  await t.rejects(client.files.retrieve(training.id), apiError(404, { param: 'file_id', type: 'invalid_request_error' }), 'a deleted file is gone');
  t.equal(fake.files.length, 2, 'a deleted upload is still counted');
  t.equal(fake.files[0]?.deleted, true);
});

t.test('Files: strict like the API about fields, purposes, policies, keys and ids', async (t) => {
  const { fake, client } = await setup(t);
  const file = await toFile(Buffer.from(TRAINING), 'train.jsonl');
  await t.rejects(client.files.create({ file, purpose: 'fine-tuning' as 'fine-tune' }), apiError(400, { code: 'invalid_value', param: 'purpose' }), 'bad purpose');
  await t.rejects(client.files.create({ file, purpose: 'fine-tune', tags: 'x' } as never), apiError(400, { code: 'unknown_parameter', param: 'tags' }), 'unknown field');
  await t.rejects(client.files.create({ file } as never), apiError(400, { code: 'missing_required_parameter', param: 'purpose' }), 'missing purpose');
  await t.rejects(
    client.files.create({ file, purpose: 'batch', expires_after: { anchor: 'created_at', seconds: 60 } }),
    apiError(400, { code: 'integer_below_min_value', param: 'expires_after.seconds' }),
    'expiry below an hour',
  );
  const json = await fetch(`${fake.url}/files`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: '{"purpose":"batch"}' });
  t.equal(json.status, 400, 'a JSON body is not an upload');
  const stranger = new OpenAI({ apiKey: 'sk-wrong', baseURL: fake.url, maxRetries: 0 });
  await t.rejects(stranger.files.list(), apiError(401, { code: 'invalid_api_key' }), 'wrong key');
  await t.rejects(client.files.retrieve('file-nope'), apiError(404), 'unknown id');
  await t.rejects(client.files.content('file-nope'), apiError(404), 'unknown id, content');
  t.equal(fake.files.length, 0, 'nothing refused was stored');
  const unrouted = await fetch(`${fake.url}/fine_tuning/jobs/ftjob-x/pause`, { method: 'POST', headers: { authorization: `Bearer ${KEY}` } });
  t.equal(unrouted.status, 404, 'paths the fake does not speak are still a 404');
});

t.test('Fine-tuning: the test drives the statuses; events newest first with metrics; checkpoints; the model', async (t) => {
  const { fake, client } = await setup(t);
  const training = await upload(client, TRAINING, 'fine-tune', 'train.jsonl');
  const validation = await upload(client, jsonl([chatExample(9)]), 'fine-tune', 'valid.jsonl');
  const job = await client.fineTuning.jobs.create({
    model: BASE,
    training_file: training.id,
    validation_file: validation.id,
    suffix: 'support',
    metadata: { run: 'r1' },
    method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: 2, batch_size: 2 } } },
  });
  t.match(job, {
    id: /^ftjob-/,
    object: 'fine_tuning.job',
    status: 'validating_files',
    model: BASE,
    fine_tuned_model: null,
    finished_at: null,
    trained_tokens: null,
    error: null,
    training_file: training.id,
    validation_file: validation.id,
    hyperparameters: { n_epochs: 2, batch_size: 2, learning_rate_multiplier: 'auto' },
    method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: 2 } } },
    metadata: { run: 'r1' },
  });
  t.equal((await client.fineTuning.jobs.retrieve(job.id)).status, 'validating_files', 'nothing moves by itself');

  t.equal(fake.fineTuning.advance(job.id).status, 'queued');
  t.equal(fake.fineTuning.advance(job.id).status, 'running');
  const running = await client.fineTuning.jobs.retrieve(job.id);
  t.match(running, { status: 'running', hyperparameters: { n_epochs: 2, batch_size: 2, learning_rate_multiplier: 2 }, estimated_finish: Number });

  fake.fineTuning.train(job.id, 1);
  const firstPage = await client.fineTuning.jobs.listEvents(job.id, { limit: 2 });
  t.equal(firstPage.data.length, 2);
  t.equal(firstPage.has_more, true);
  t.match(firstPage.data[0], {
    id: /^ftevent-/,
    object: 'fine_tuning.job.event',
    level: 'info',
    type: 'metrics',
    message: /^Step 1\/4: training loss=[\d.]+, validation loss=[\d.]+$/,
    data: { step: 1, train_loss: Number, train_mean_token_accuracy: Number, valid_loss: Number, valid_mean_token_accuracy: Number, total_steps: 4 },
  }, 'the newest event comes first');
  t.match(firstPage.data[1], { type: 'message', message: 'Fine-tuning job started', data: null });

  t.equal(fake.fineTuning.advance(job.id).status, 'succeeded');
  const done = await client.fineTuning.jobs.retrieve(job.id);
  t.equal(done.fine_tuned_model, `ft:${BASE}:fake-org:support:${job.id.slice(-8)}`);
  t.ok((done.trained_tokens ?? 0) > 0, 'trained_tokens');
  t.type(done.finished_at, 'number');
  t.equal(done.result_files.length, 1);
  t.match(await (await client.files.content(done.result_files[0] as string)).text(), /^step,train_loss,train_mean_token_accuracy,valid_loss,valid_mean_token_accuracy\n1,/);

  const events = [];
  for await (const event of client.fineTuning.jobs.listEvents(job.id, { limit: 3 })) events.push(event);
  t.equal(events[0]?.message, 'The job has successfully completed');
  t.equal(events.at(-1)?.message, `Created fine-tuning job: ${job.id}`, 'the oldest event comes last');
  const steps = events.filter((e) => e.type === 'metrics').map((e) => (e.data as { step: number }).step);
  t.same(steps, [4, 3, 2, 1], 'one metrics event per step, newest first');
  const losses = events.filter((e) => e.type === 'metrics').map((e) => (e.data as { train_loss: number }).train_loss);
  t.ok(losses[0]! < losses.at(-1)!, 'the training loss falls');

  const checkpoints = await client.fineTuning.jobs.checkpoints.list(job.id);
  t.same(checkpoints.data.map((c) => c.step_number), [4, 2], 'a checkpoint per epoch, newest first');
  t.match(checkpoints.data[0], {
    id: /^ftckpt_/,
    object: 'fine_tuning.job.checkpoint',
    fine_tuning_job_id: job.id,
    fine_tuned_model_checkpoint: `${done.fine_tuned_model}:ckpt-step-4`,
    metrics: { step: 4, train_loss: Number, valid_loss: Number, full_valid_loss: Number, full_valid_mean_token_accuracy: Number },
  });

  const models = (await client.models.list()).data;
  t.same(models.map((m) => m.id), ['gpt-4.1-mini-2025-04-14', 'gpt-4.1-2025-04-14', 'gpt-4.1-nano-2025-04-14', done.fine_tuned_model]);
  t.match(await client.models.retrieve(done.fine_tuned_model as string), { id: done.fine_tuned_model, object: 'model', owned_by: 'org-fake-org', created: Number });
  t.match(await client.models.retrieve(BASE), { id: BASE, object: 'model', owned_by: 'system' });
  await t.rejects(client.models.retrieve('gpt-unknown'), apiError(404, { code: 'model_not_found', param: 'model' }));

  const second = await client.fineTuning.jobs.create({ model: done.fine_tuned_model as string, training_file: training.id });
  t.equal(second.model, done.fine_tuned_model, 'a fine-tuned model can be tuned further');
  const page = await client.fineTuning.jobs.list({ limit: 1 });
  t.same([page.data[0]?.id, page.has_more], [second.id, true], 'jobs are listed newest first');
  t.same((await client.fineTuning.jobs.list({ after: second.id })).data.map((j) => j.id), [job.id], 'after');
  t.same((await client.fineTuning.jobs.list({ metadata: { run: 'r1' } })).data.map((j) => j.id), [job.id], 'metadata filter');
  t.equal(fake.fineTuning.created.length, 2);
});

t.test('Fine-tuning: strict like the API about parameters, models, files and hyperparameters', async (t) => {
  const { fake, client } = await setup(t, { fineTunableModels: ['gpt-4.1-nano-2025-04-14'] });
  const training = await upload(client, TRAINING, 'fine-tune');
  const batchFile = await upload(client, TRAINING, 'batch');
  const base = { model: 'gpt-4.1-nano-2025-04-14', training_file: training.id };
  const hyper = (hyperparameters: Record<string, unknown>) => ({ ...base, method: { type: 'supervised' as const, supervised: { hyperparameters } } });
  const refused: Array<[string, object, object]> = [
    ['an unknown parameter', { ...base, epochs: 3 }, { code: 'unknown_parameter', param: 'epochs' }],
    ['no model', { training_file: training.id }, { code: 'missing_required_parameter', param: 'model' }],
    ['no training file', { model: base.model }, { code: 'missing_required_parameter', param: 'training_file' }],
    ['a base model outside the configured list', { ...base, model: BASE }, { code: 'model_not_available', param: 'model' }],
    ['an unknown training file', { ...base, training_file: 'file-nope' }, { param: 'training_file', message: /invalid training_file: file-nope/ }],
    ['a training file uploaded for batch', { ...base, training_file: batchFile.id }, { param: 'training_file', message: /purpose 'batch'/ }],
    ['n_epochs above 50', hyper({ n_epochs: 51 }), { code: 'integer_above_max_value', param: 'method.supervised.hyperparameters.n_epochs' }],
    ['n_epochs not an integer', hyper({ n_epochs: 2.5 }), { code: 'invalid_type', param: 'method.supervised.hyperparameters.n_epochs' }],
    ['batch_size 0', hyper({ batch_size: 0 }), { code: 'integer_below_min_value', param: 'method.supervised.hyperparameters.batch_size' }],
    ['batch_size above 256', hyper({ batch_size: 257 }), { code: 'integer_above_max_value', param: 'method.supervised.hyperparameters.batch_size' }],
    ['learning_rate_multiplier 0', hyper({ learning_rate_multiplier: 0 }), { code: 'decimal_below_min_value', param: 'method.supervised.hyperparameters.learning_rate_multiplier' }],
    ['an unknown hyperparameter', hyper({ epochs: 2 }), { code: 'unknown_parameter', param: 'method.supervised.hyperparameters.epochs' }],
    ['an unknown method type', { ...base, method: { type: 'magic' } }, { code: 'invalid_value', param: 'method.type' }],
    ['the deprecated hyperparameters out of range', { ...base, hyperparameters: { n_epochs: 0 } }, { code: 'integer_below_min_value', param: 'hyperparameters.n_epochs' }],
    ['a suffix over 64 characters', { ...base, suffix: 'x'.repeat(65) }, { param: 'suffix' }],
  ];
  for (const [name, body, error] of refused) {
    await t.rejects(client.fineTuning.jobs.create(body as never), apiError(400, { type: 'invalid_request_error', ...error }), name);
  }
  t.equal(fake.fineTuning.created.length, 0, 'nothing refused was created');
  const ok = await client.fineTuning.jobs.create({ ...hyper({ n_epochs: 'auto', batch_size: 256, learning_rate_multiplier: 0.1 }) });
  t.match(ok.hyperparameters, { n_epochs: 'auto', batch_size: 256, learning_rate_multiplier: 0.1 }, 'bounds and "auto" are accepted');
  await t.rejects(client.fineTuning.jobs.retrieve('ftjob-nope'), apiError(404, { param: 'fine_tuning_job_id' }));
  await t.rejects(client.fineTuning.jobs.listEvents('ftjob-nope'), apiError(404));
  await t.rejects(client.fineTuning.jobs.cancel('ftjob-nope'), apiError(404));
});

t.test('Fine-tuning: failures the test controls, an invalid training file, and cancel', async (t) => {
  const { fake, client } = await setup(t);
  const training = await upload(client, TRAINING, 'fine-tune');

  const failing = await client.fineTuning.jobs.create({ model: BASE, training_file: training.id });
  fake.fineTuning.advance(failing.id, 'running');
  fake.fineTuning.advance(failing.id, 'failed', { code: 'exceeded_quota', message: 'Quota exceeded.', param: null });
  t.match(await client.fineTuning.jobs.retrieve(failing.id), { status: 'failed', error: { code: 'exceeded_quota', message: 'Quota exceeded.', param: null }, fine_tuned_model: null, finished_at: Number });
  t.match((await client.fineTuning.jobs.listEvents(failing.id)).data[0], { level: 'error', message: 'Quota exceeded.' });
  t.throws(() => fake.fineTuning.advance(failing.id), /already failed/, 'a finished job does not move again');

  const broken = await upload(client, `${JSON.stringify(chatExample(1))}\nnot json\n`, 'fine-tune');
  const invalid = await client.fineTuning.jobs.create({ model: BASE, training_file: broken.id });
  fake.fineTuning.advance(invalid.id, 'succeeded');
  t.match(await client.fineTuning.jobs.retrieve(invalid.id), { status: 'failed', error: { code: 'invalid_training_file', param: 'training_file', message: /Line 2/ } }, 'a bad file fails while validating files');

  const cancelled = await client.fineTuning.jobs.create({ model: BASE, training_file: training.id });
  fake.fineTuning.advance(cancelled.id);
  t.match(await client.fineTuning.jobs.cancel(cancelled.id), { id: cancelled.id, status: 'cancelled' });
  await t.rejects(client.fineTuning.jobs.cancel(cancelled.id), apiError(400), 'a cancelled job cannot be cancelled again');
});

t.test('Fine-tuning: a restarted client finds the job where the fake left it; autoAdvance steps once per GET', async (t) => {
  const { fake, client } = await setup(t);
  const training = await upload(client, TRAINING, 'fine-tune');
  const job = await client.fineTuning.jobs.create({ model: BASE, training_file: training.id });
  fake.fineTuning.advance(job.id, 'running');
  fake.fineTuning.train(job.id, 2);

  const afterRestart = new OpenAI({ apiKey: KEY, baseURL: fake.url, maxRetries: 0 });
  const [found] = (await afterRestart.fineTuning.jobs.list()).data;
  t.match(found, { id: job.id, status: 'running' }, 'the job outlives the client that created it');
  t.equal((await afterRestart.fineTuning.jobs.listEvents(job.id, { limit: 1 })).data[0]?.message, 'Step 2/12: training loss=1.12');

  fake.fineTuning.autoAdvance = true;
  const fresh = await afterRestart.fineTuning.jobs.create({ model: BASE, training_file: training.id });
  const seen = [];
  for (let i = 0; i < 4; i += 1) seen.push((await afterRestart.fineTuning.jobs.retrieve(fresh.id)).status);
  t.same(seen, ['queued', 'running', 'succeeded', 'succeeded'], 'each GET moves one step, then stays');
  t.equal(fake.fineTuning.created.length, 2);
});

t.test('Batches: lines run through the fake answer logic; the output is shuffled; counts and usage', async (t) => {
  const { fake, client } = await setup(t, { answer: (request) => `Answer to ${request.userText}` });
  const ids = ['q-0', 'q-1', 'q-2', 'q-3', 'q-4', 'q-5'];
  const input = await upload(client, jsonl(ids.map((id) => responsesLine(id, `question ${id}`))), 'batch');
  const batch = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/responses', completion_window: '24h', metadata: { run: 'b1' } });
  t.match(batch, {
    id: /^batch_/,
    object: 'batch',
    status: 'validating',
    endpoint: '/v1/responses',
    input_file_id: input.id,
    completion_window: '24h',
    output_file_id: null,
    error_file_id: null,
    errors: null,
    request_counts: { total: 0, completed: 0, failed: 0 },
    metadata: { run: 'b1' },
  });
  t.equal((await client.batches.retrieve(batch.id)).status, 'validating', 'nothing moves by itself');

  t.match(fake.batches.advance(batch.id), { status: 'in_progress', requestCounts: { total: 6 } });
  t.match(await client.batches.retrieve(batch.id), { status: 'in_progress', model: BASE, in_progress_at: Number, expires_at: batch.created_at + 86400 });
  t.equal(fake.batches.advance(batch.id).status, 'finalizing');
  t.equal(fake.batches.advance(batch.id).status, 'completed');
  const done = await client.batches.retrieve(batch.id);
  t.match(done, { status: 'completed', completed_at: Number, finalizing_at: Number, error_file_id: null, request_counts: { total: 6, completed: 6, failed: 0 } });
  t.ok((done.usage?.input_tokens ?? 0) > 0 && (done.usage?.output_tokens ?? 0) > 0, 'usage sums the lines');
  t.match(await client.files.retrieve(done.output_file_id as string), { purpose: 'batch_output' });

  const lines = await contentOf(client, done.output_file_id);
  t.same(lines.map((l) => l.custom_id).sort(), ids, 'one output line per request');
  t.not(lines.map((l) => l.custom_id).join(), ids.join(), 'the output is not in input order');
  for (const line of lines) {
    t.match(line, { id: /^batch_req_/, response: { status_code: 200, request_id: /^req_/, body: { object: 'response', model: BASE, status: 'completed' } }, error: null });
    t.equal(line.response.body.output[0].content[0].text, `Answer to question ${line.custom_id}`, `${line.custom_id}: answered by options.answer`);
  }
  t.equal(fake.requests.length, 0, 'batch lines are not synchronous calls');
  t.equal(fake.batches.created.length, 1);
  t.same((await client.batches.list()).data.map((b) => b.id), [batch.id]);
});

t.test('Batches: partial failures — a 500 and a 429 in the error file, a line missing — with behaviour and structured output', async (t) => {
  const { fake, client } = await setup(t, {
    batchLine: ({ customId }) => (customId === 'c-1' ? { status: 500 } : customId === 'c-2' ? 'unexecuted' : undefined),
    behaviour: (request) => (request.customId === 'c-3' ? { status: 429 } : undefined),
    structured: () => ({ answer: 'structured' }),
  });
  const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'], additionalProperties: false };
  const rows = ['c-0', 'c-1', 'c-2', 'c-3', 'c-5'].map((id) => chatLine(id, id));
  rows.splice(4, 0, chatLine('c-4', 'c-4', { response_format: { type: 'json_schema', json_schema: { name: 'a', strict: true, schema } } }));
  const input = await upload(client, jsonl(rows), 'batch');
  const batch = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  fake.batches.advance(batch.id, 'completed');

  const done = await client.batches.retrieve(batch.id);
  t.match(done, { status: 'completed', request_counts: { total: 6, completed: 3, failed: 2 } }, 'the missing line is counted nowhere');
  const output = await contentOf(client, done.output_file_id);
  const errors = await contentOf(client, done.error_file_id);
  t.same(output.map((l) => l.custom_id).sort(), ['c-0', 'c-4', 'c-5']);
  t.same(errors.map((l) => [l.custom_id, l.response.status_code]).sort(), [['c-1', 500], ['c-3', 429]]);
  t.match(errors.find((l) => l.custom_id === 'c-3'), { response: { body: { error: { code: 'rate_limit_exceeded' } } }, error: null });
  t.equal(JSON.parse(output.find((l) => l.custom_id === 'c-4')?.response.body.choices[0].message.content).answer, 'structured');
  t.match(output.find((l) => l.custom_id === 'c-0'), { response: { body: { object: 'chat.completion', choices: [{ message: { content: 'Fake answer from gpt-4.1-mini-2025-04-14 to c-0' } }] } } });
});

t.test('Batches: expiry and cancel write the lines that never ran to the error file', async (t) => {
  const { fake, client } = await setup(t, { batchLine: ({ customId }) => (customId.endsWith('-late') ? 'unexecuted' : undefined) });
  const create = async () => {
    const input = await upload(client, jsonl([responsesLine('x-0', 'a'), responsesLine('x-1-late', 'b'), responsesLine('x-2', 'c')]), 'batch');
    return client.batches.create({ input_file_id: input.id, endpoint: '/v1/responses', completion_window: '24h' });
  };

  const expiring = await create();
  fake.batches.advance(expiring.id);
  fake.batches.advance(expiring.id, 'expired');
  const expired = await client.batches.retrieve(expiring.id);
  t.match(expired, { status: 'expired', expired_at: Number, request_counts: { total: 3, completed: 2, failed: 1 } });
  t.same((await contentOf(client, expired.output_file_id)).map((l) => l.custom_id).sort(), ['x-0', 'x-2'], 'completed work is returned');
  t.match(await contentOf(client, expired.error_file_id), [{ custom_id: 'x-1-late', response: null, error: { code: 'batch_expired', message: String } }]);

  const cancelling = await create();
  fake.batches.advance(cancelling.id);
  t.match(await client.batches.cancel(cancelling.id), { status: 'cancelling', cancelling_at: Number });
  t.equal((await client.batches.retrieve(cancelling.id)).status, 'cancelling', 'cancelling until the test moves it');
  fake.batches.advance(cancelling.id);
  const cancelled = await client.batches.retrieve(cancelling.id);
  t.match(cancelled, { status: 'cancelled', cancelled_at: Number });
  t.match(await contentOf(client, cancelled.error_file_id), [{ custom_id: 'x-1-late', response: null, error: { code: 'batch_cancelled' } }]);
  await t.rejects(client.batches.cancel(cancelling.id), apiError(400), 'a cancelled batch cannot be cancelled');

  const early = await create();
  t.match(await client.batches.cancel(early.id), { status: 'cancelling' });
  t.match(fake.batches.advance(early.id), { status: 'cancelled', outputFileId: null, errorFileId: null }, 'cancelled while validating: nothing ran');
});

t.test('Batches: strict about parameters, the input file and every line; an invalid file fails the batch', async (t) => {
  const { fake, client } = await setup(t);
  const good = await upload(client, jsonl([responsesLine('a', 'x')]), 'batch');
  const tuning = await upload(client, TRAINING, 'fine-tune');
  const base = { input_file_id: good.id, endpoint: '/v1/responses' as const, completion_window: '24h' as const };
  const refused: Array<[string, object, object]> = [
    ['an unknown parameter', { ...base, priority: 'high' }, { code: 'unknown_parameter', param: 'priority' }],
    ['no completion_window', { input_file_id: good.id, endpoint: '/v1/responses' }, { code: 'missing_required_parameter', param: 'completion_window' }],
    ['a 48h window', { ...base, completion_window: '48h' }, { code: 'invalid_value', param: 'completion_window' }],
    ['an endpoint the API does not batch', { ...base, endpoint: '/v1/files' }, { code: 'invalid_value', param: 'endpoint' }],
    ['an endpoint the fake does not answer', { ...base, endpoint: '/v1/embeddings' }, { param: 'endpoint' }],
    ['a file uploaded for fine-tuning', { ...base, input_file_id: tuning.id }, { param: 'input_file_id', message: /purpose 'fine-tune'/ }],
    ['an unknown file', { ...base, input_file_id: 'file-nope' }, { param: 'input_file_id' }],
  ];
  for (const [name, body, error] of refused) await t.rejects(client.batches.create(body as never), apiError(400, error), name);
  t.equal(fake.batches.created.length, 0, 'nothing refused was created');
  await t.rejects(client.batches.retrieve('batch_nope'), apiError(404, { param: 'batch_id' }));
  await t.rejects(client.batches.cancel('batch_nope'), apiError(404));

  const badLines = [
    JSON.stringify(responsesLine('ok', 'x')),
    '{not json',
    JSON.stringify(responsesLine('ok', 'again')),
    JSON.stringify({ ...responsesLine('get', 'x'), method: 'GET' }),
    JSON.stringify({ ...responsesLine('chat', 'x'), url: '/v1/chat/completions' }),
    JSON.stringify(responsesLine('seeded', 'x', { seed: 1 })),
    JSON.stringify({ ...responsesLine('other-model', 'x'), body: { model: 'gpt-4.1-2025-04-14', input: 'x' } }),
    JSON.stringify({ ...responsesLine('extra', 'x'), priority: 1 }),
  ].join('\n');
  const invalid = await upload(client, badLines, 'batch');
  const batch = await client.batches.create({ ...base, input_file_id: invalid.id });
  t.equal(batch.status, 'validating', 'the file is judged while validating, as the API does');
  t.throws(() => fake.batches.advance(batch.id, 'in_progress'), /failed validation/, 'an invalid batch cannot run');
  fake.batches.advance(batch.id);
  const failed = await client.batches.retrieve(batch.id);
  t.match(failed, { status: 'failed', failed_at: Number, output_file_id: null, errors: { object: 'list' } });
  t.same(
    failed.errors?.data?.map((e) => [e.line, e.code, e.param]),
    [
      [2, 'invalid_json_line', null],
      [3, 'duplicate_custom_id', 'custom_id'],
      [4, 'invalid_method', 'method'],
      [5, 'invalid_url', 'url'],
      [6, 'unknown_parameter', 'body.seed'],
      [7, 'mismatched_model', 'body.model'],
      [8, 'unknown_parameter', 'priority'],
    ],
    'every bad line is reported with its number, using the synchronous endpoint validation for bodies',
  );

  const tooMany = await upload(client, jsonl(Array.from({ length: 50_001 }, (_, i) => responsesLine(`r${i}`, 'x'))), 'batch');
  const huge = await client.batches.create({ ...base, input_file_id: tooMany.id });
  t.match(fake.batches.advance(huge.id), { status: 'failed', errors: [{ code: 'too_many_lines' }] }, 'more than 50,000 requests');
});

t.test('Lifecycle faults: a lost reply still creates the batch (fake.batches counts it); a 500 creates nothing; autoAdvance', async (t) => {
  const { fake, client } = await setup(t);
  const input = await upload(client, jsonl([responsesLine('a', 'x')]), 'batch');
  const body = { input_file_id: input.id, endpoint: '/v1/responses' as const, completion_window: '24h' as const };

  fake.lifecycleQueue.push({ status: 500 });
  await t.rejects(client.batches.create(body), apiError(500));
  t.equal(fake.batches.created.length, 0, 'a refused call did nothing');

  fake.lifecycleQueue.push({ loseReply: true });
  t.type(await client.batches.create(body).catch((error: unknown) => error), OpenAI.APIConnectionError, 'the reply never arrives');
  t.equal(fake.batches.created.length, 1, 'but the batch exists: a blind retry would create a second one');
  t.match(fake.lifecycleRequests.at(-1), { method: 'POST', path: '/v1/batches', body, authorization: `Bearer ${KEY}` });

  const [lost] = (await client.batches.list()).data;
  fake.batches.autoAdvance = true;
  const seen = [];
  for (let i = 0; i < 4; i += 1) seen.push((await client.batches.retrieve(lost?.id as string)).status);
  t.same(seen, ['in_progress', 'finalizing', 'completed', 'completed'], 'each GET moves one step, then stays');
});
