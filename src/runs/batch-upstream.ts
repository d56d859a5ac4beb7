/**
 * The Batch API calls of a batch run, through the SDK client of the alias's upstream. Upload and create look
 * first for what an earlier attempt may have done (its reply lost, or the process stopped before it wrote the
 * outcome): a file by its name, a batch by its metadata. A blind retry would upload or create twice.
 */
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { toFile, type OpenAI } from 'openai';
import type { Batch } from 'openai/resources/batches';
import type { BatchEndpoint } from './batch-lines.js';

/** The id of the run's input file named `filename`: found among the uploads, else uploaded now. */
export async function findOrUploadFile(client: OpenAI, filename: string, content: () => Promise<string>, signal: AbortSignal): Promise<string> {
  for await (const file of client.files.list({ purpose: 'batch' }, { signal })) {
    if (file.filename === filename) return file.id;
  }
  const file = await client.files.create({ file: await toFile(Buffer.from(await content()), filename), purpose: 'batch' }, { signal });
  return file.id;
}

export interface BatchIdentity {
  run_id: string;
  /** partKey(): unique within the run. */
  part: string;
  /** When the run was created (Unix seconds): batches are listed newest first, and none older can be the run's. */
  since: number;
}

/** The run's batch for this part: found by its metadata, else created now. */
export async function findOrCreateBatch(client: OpenAI, request: { input_file_id: string; endpoint: BatchEndpoint }, identity: BatchIdentity, signal: AbortSignal): Promise<Batch> {
  for await (const batch of client.batches.list({ limit: 100 }, { signal })) {
    if (batch.created_at < identity.since) break;
    if (batch.metadata?.run_id === identity.run_id && batch.metadata?.part === identity.part) return batch;
  }
  return client.batches.create({
    input_file_id: request.input_file_id,
    endpoint: request.endpoint,
    completion_window: '24h',
    metadata: { run_id: identity.run_id, part: identity.part },
  }, { signal });
}

/**
 * A file's lines as they arrive; none when there is no file (a batch with no output, or no error). An output
 * file holds a whole response per line and can be far larger than any reply read whole (UPSTREAM_MAX_REPLY_BYTES
 * caps the client's fetch): it is read through a fetch of its own, line by line.
 */
export async function* fileLines(client: OpenAI, fileId: string | null | undefined, signal?: AbortSignal): AsyncGenerator<string> {
  if (!fileId) return;
  const response = await client.withOptions({ fetch: globalThis.fetch }).files.content(fileId, { signal });
  if (!response.body) return;
  yield* createInterface({ input: Readable.fromWeb(response.body as WebReadableStream), crlfDelay: Infinity });
}
