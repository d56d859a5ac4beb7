/**
 * The fake OpenAI server's Files API (POST/GET/DELETE /v1/files, GET /v1/files/{id}/content) and
 * the wire plumbing every lifecycle endpoint shares: OpenAI's error bodies, cursor pages, routes.
 * Wire facts: shared/reference/openai-wire.md; what it does not say is cited where it is used.
 */
import { randomBytes } from 'node:crypto';

/** One file the fake holds: an upload, or a file the fake wrote (batch output, fine-tuning results). */
export interface FakeFile {
  id: string;
  filename: string;
  purpose: string;
  bytes: number;
  content: Buffer;
  /** Unix seconds. */
  createdAt: number;
  expiresAt: number | null;
  deleted: boolean;
}

export interface LifecycleReply {
  status: number;
  /** A JSON body, or raw bytes (file content). */
  body?: unknown;
  bytes?: Buffer;
}

export interface LifecycleCall {
  params: string[];
  query: URLSearchParams;
  contentType: string;
  raw: Buffer;
  authorization: string | undefined;
}

export interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  pattern: RegExp;
  handle(call: LifecycleCall): LifecycleReply | Promise<LifecycleReply>;
}

type JsonObject = Record<string, unknown>;

export const now = () => Math.floor(Date.now() / 1000);
/** Ids in OpenAI's shapes: `file-…`, `ftjob-…`, `ftevent-…`, `ftckpt_…`, `batch_…`, `batch_req_…`. */
export const wireId = (prefix: string) => `${prefix}${randomBytes(12).toString('hex')}`;
export const countTokens = (text: string) => Math.max(1, Math.ceil(text.length / 4));

export const ok = (body: unknown): LifecycleReply => ({ status: 200, body });
export const invalidRequest = (message: string, param: string | null = null, code: string | null = null, status = 400): LifecycleReply => ({
  status,
  body: { error: { message, type: 'invalid_request_error', param, code } },
});
export const unknownParameter = (param: string) => invalidRequest(`Unknown parameter: '${param}'.`, param, 'unknown_parameter');
export const missingParameter = (param: string) => invalidRequest(`Missing required parameter: '${param}'.`, param, 'missing_required_parameter');
export const invalidValue = (param: string, value: unknown, supported: readonly string[]) =>
  invalidRequest(`Invalid value: '${String(value)}'. Supported values are: ${supported.map((s) => `'${s}'`).join(', ')}.`, param, 'invalid_value');
export const invalidType = (param: string, expected: string, value: unknown) =>
  invalidRequest(`Invalid type for '${param}': expected ${expected}, but got ${JSON.stringify(value)} instead.`, param, 'invalid_type');
export const notFound = (kind: string, id: string, param = 'id') => invalidRequest(`No such ${kind} object: ${id}`, param, null, 404);

/** A number in [min, max] (integer or not), with the range codes the synchronous endpoints use. */
export function checkRange(param: string, value: unknown, min: number, max: number, integer: boolean, exclusiveMin = false): LifecycleReply | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    return invalidType(param, integer ? 'an integer' : 'a number', value);
  }
  const kind = integer ? 'integer' : 'decimal';
  if (value < min || (exclusiveMin && value === min)) {
    return invalidRequest(`Invalid '${param}': ${kind} below minimum value. Expected a value ${exclusiveMin ? '>' : '>='} ${min}, but got ${value} instead.`, param, `${kind}_below_min_value`);
  }
  if (value > max) {
    return invalidRequest(`Invalid '${param}': ${kind} above maximum value. Expected a value <= ${max}, but got ${value} instead.`, param, `${kind}_above_max_value`);
  }
  return undefined;
}

export function parseJsonObject(raw: Buffer): JsonObject | LifecycleReply {
  try {
    const body = JSON.parse(raw.toString('utf8')) as unknown;
    if (body && typeof body === 'object' && !Array.isArray(body)) return body as JsonObject;
  } catch {
    // answered below
  }
  return invalidRequest('We could not parse the JSON body of your request.');
}
export const isReply = (value: unknown): value is LifecycleReply => typeof (value as LifecycleReply | undefined)?.status === 'number';

export function firstUnknownKey(body: JsonObject, allowed: readonly string[], prefix = ''): LifecycleReply | undefined {
  const key = Object.keys(body).find((k) => !allowed.includes(k));
  return key === undefined ? undefined : unknownParameter(`${prefix}${key}`);
}

/** `{anchor: "created_at", seconds: 3600..2592000}` (FileExpirationAfter / BatchFileExpirationAfter in the spec). */
export function checkExpiresAfter(param: string, value: unknown): LifecycleReply | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return invalidType(param, 'an object', value);
  const policy = value as JsonObject;
  const unknown = firstUnknownKey(policy, ['anchor', 'seconds'], `${param}.`);
  if (unknown) return unknown;
  if (policy.anchor === undefined) return missingParameter(`${param}.anchor`);
  if (policy.anchor !== 'created_at') return invalidValue(`${param}.anchor`, policy.anchor, ['created_at']);
  if (policy.seconds === undefined) return missingParameter(`${param}.seconds`);
  return checkRange(`${param}.seconds`, policy.seconds, 3600, 2592000, true);
}

/** Query parameters are checked as strictly as body parameters: a typo is a 400, not a silent default. */
export function firstUnknownQuery(query: URLSearchParams, allowed: readonly string[]): LifecycleReply | undefined {
  for (const key of query.keys()) {
    if (!allowed.includes(key) && !(allowed.includes('metadata') && /^metadata\[.+\]$/.test(key))) return unknownParameter(key);
  }
  return undefined;
}

/**
 * A cursor page `{object: "list", data, has_more[, first_id, last_id]}` over items already in
 * listing order; `after` is the id of the last item of the previous page, as the SDK sends it.
 */
export function cursorPage<T extends { id: string }>(
  items: T[],
  query: URLSearchParams,
  page: { defaultLimit: number; maxLimit?: number; ends?: boolean },
): LifecycleReply {
  const rawLimit = query.get('limit');
  const limit = rawLimit === null ? page.defaultLimit : Number(rawLimit);
  const invalid = rawLimit === null ? undefined : checkRange('limit', limit, 1, page.maxLimit ?? Number.MAX_SAFE_INTEGER, true);
  if (invalid) return invalid;
  const after = query.get('after');
  let start = 0;
  if (after !== null) {
    const index = items.findIndex((item) => item.id === after);
    if (index < 0) return invalidRequest(`Invalid 'after': no object with id ${after} in this list.`, 'after');
    start = index + 1;
  }
  const data = items.slice(start, start + limit);
  const ends = page.ends ? { first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null } : {};
  return ok({ object: 'list', data, ...ends, has_more: start + limit < items.length });
}

export const FILE_PURPOSES = ['assistants', 'batch', 'fine-tune', 'vision', 'user_data', 'evals'] as const;
const BATCH_FILE_LIFETIME_S = 30 * 24 * 3600; // "files with purpose=batch expire after 30 days" (FileExpirationAfter in the spec)

export interface FileStore {
  /** Uploads only, in order, deleted ones included (flagged): what tests count. */
  uploads: FakeFile[];
  /** Every file the fake holds, uploads and the files it wrote. */
  byId: Map<string, FakeFile>;
  add(filename: string, purpose: string, content: Buffer, upload: boolean, expiresAt?: number | null): FakeFile;
  /** A file that exists and is not deleted. */
  get(id: string): FakeFile | undefined;
}

export function createFileStore(uploads: FakeFile[]): FileStore {
  const byId = new Map<string, FakeFile>();
  return {
    uploads,
    byId,
    add(filename, purpose, content, upload, expiresAt = null) {
      const file: FakeFile = { id: wireId('file-'), filename, purpose, bytes: content.length, content, createdAt: now(), expiresAt, deleted: false };
      byId.set(file.id, file);
      if (upload) uploads.push(file);
      return file;
    },
    get: (id) => {
      const file = byId.get(id);
      return file && !file.deleted ? file : undefined;
    },
  };
}

export const fileObject = (file: FakeFile) => ({
  id: file.id,
  object: 'file',
  bytes: file.bytes,
  created_at: file.createdAt,
  expires_at: file.expiresAt,
  filename: file.filename,
  purpose: file.purpose,
  status: 'processed',
  status_details: null,
});

async function parseMultipart(contentType: string, raw: Buffer): Promise<FormData | LifecycleReply> {
  if (!contentType.toLowerCase().startsWith('multipart/form-data')) {
    return invalidRequest(`Invalid Content-Type header (${contentType || 'none'}), expected multipart/form-data.`);
  }
  try {
    // Node's own fetch Request parses multipart bodies: no parser dependency needed.
    return await new Request('http://fake-openai.local/v1/files', { method: 'POST', headers: { 'content-type': contentType }, body: raw }).formData();
  } catch {
    return invalidRequest('We could not parse the multipart/form-data body of your request.');
  }
}

async function upload(store: FileStore, call: LifecycleCall): Promise<LifecycleReply> {
  const form = await parseMultipart(call.contentType, call.raw);
  if (isReply(form)) return form;
  const fields: Record<string, string | File> = {};
  const expiresAfter: JsonObject = {};
  let hasExpiresAfter = false;
  for (const [name, value] of form) {
    // The SDK sends nested objects as bracketed fields: expires_after[anchor], expires_after[seconds].
    const nested = /^expires_after\[(.+)\]$/.exec(name);
    if (nested?.[1]) {
      hasExpiresAfter = true;
      expiresAfter[nested[1]] = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
    } else if (name === 'file' || name === 'purpose') {
      fields[name] = value;
    } else {
      return unknownParameter(name);
    }
  }
  const file = fields.file;
  if (file === undefined || typeof file === 'string') return missingParameter('file');
  const purpose = fields.purpose;
  if (purpose === undefined) return missingParameter('purpose');
  if (typeof purpose !== 'string' || !(FILE_PURPOSES as readonly string[]).includes(purpose)) return invalidValue('purpose', purpose, FILE_PURPOSES);
  const invalidPolicy = hasExpiresAfter ? checkExpiresAfter('expires_after', expiresAfter) : undefined;
  if (invalidPolicy) return invalidPolicy;
  const createdAt = now();
  const lifetime = hasExpiresAfter ? (expiresAfter.seconds as number) : purpose === 'batch' ? BATCH_FILE_LIFETIME_S : undefined;
  const stored = store.add(file.name, purpose, Buffer.from(await file.arrayBuffer()), true, lifetime === undefined ? null : createdAt + lifetime);
  return ok(fileObject(stored));
}

export function fileRoutes(store: FileStore): Route[] {
  const withFile = (call: LifecycleCall, then: (file: FakeFile) => LifecycleReply) => {
    const id = call.params[0] ?? '';
    const file = store.get(id);
    return file ? then(file) : notFound('File', id, 'file_id');
  };
  return [
    { method: 'POST', pattern: /^\/v1\/files$/, handle: (call) => upload(store, call) },
    {
      method: 'GET',
      pattern: /^\/v1\/files$/,
      handle: ({ query }) => {
        const invalid = firstUnknownQuery(query, ['after', 'limit', 'order', 'purpose']);
        if (invalid) return invalid;
        const order = query.get('order') ?? 'desc';
        if (order !== 'asc' && order !== 'desc') return invalidValue('order', order, ['asc', 'desc']);
        const purpose = query.get('purpose');
        const files = [...store.byId.values()].filter((file) => !file.deleted && (purpose === null || file.purpose === purpose));
        if (order === 'desc') files.reverse();
        return cursorPage(files.map(fileObject), query, { defaultLimit: 10000, maxLimit: 10000, ends: true });
      },
    },
    { method: 'GET', pattern: /^\/v1\/files\/([^/]+)$/, handle: (call) => withFile(call, (file) => ok(fileObject(file))) },
    { method: 'GET', pattern: /^\/v1\/files\/([^/]+)\/content$/, handle: (call) => withFile(call, (file) => ({ status: 200, bytes: file.content })) },
    {
      method: 'DELETE',
      pattern: /^\/v1\/files\/([^/]+)$/,
      handle: (call) =>
        withFile(call, (file) => {
          file.deleted = true;
          return ok({ id: file.id, object: 'file', deleted: true });
        }),
    },
  ];
}
