import { fetch as undiciFetch, request, type Dispatcher } from 'undici';

/** An upstream reply body longer than the configured cap (UPSTREAM_MAX_REPLY_BYTES); reading stopped at the cap. */
export class UpstreamReplyTooLargeError extends Error {
  override name = 'UpstreamReplyTooLargeError';
  constructor(readonly limitBytes: number) {
    super(`The upstream's reply is larger than ${limitBytes} bytes (UPSTREAM_MAX_REPLY_BYTES).`);
  }
}

type ReplyBody = Dispatcher.ResponseData['body'];

/**
 * The reply body as text, read chunk by chunk and never past `maxBytes`: a Content-Length over the cap
 * is refused before any byte is read, and a body that grows past it is destroyed (closing the socket)
 * as soon as it does.
 */
export async function readCappedBody(body: ReplyBody, headers: Dispatcher.ResponseData['headers'], maxBytes: number): Promise<string> {
  const declared = Number(headers['content-length']);
  if (declared > maxBytes) {
    body.destroy();
    throw new UpstreamReplyTooLargeError(maxBytes);
  }
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (length > maxBytes) throw new UpstreamReplyTooLargeError(maxBytes);
      chunks.push(chunk);
    }
  } catch (error) {
    body.destroy();
    throw error;
  }
  return chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks, length).toString('utf8');
}

/** Statuses whose reply has no body: a Response must not be given one. */
const NULL_BODY_STATUSES = new Set([204, 205, 304]);

function requestHeaders(headers: RequestInit['headers']): Record<string, string> {
  const plain: Record<string, string> = {};
  if (headers === undefined) return plain;
  for (const [name, value] of headers instanceof Headers ? headers : new Headers(headers)) plain[name] = value;
  return plain;
}

/** undici's reply headers (a repeated header comes as an array) as name/value pairs for Headers or Response. */
export function headerPairs(headers: Record<string, string | string[] | undefined>): [string, string][] {
  const pairs: [string, string][] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (Array.isArray(value)) for (const each of value) pairs.push([name, each]);
    else if (value !== undefined) pairs.push([name, value]);
  }
  return pairs;
}

/**
 * The SDK sends a file upload as Node's own FormData, which the undici package's fetch does not take for one
 * of its own (it would send it as the text "[object FormData]"): it goes as the multipart bytes and
 * content type Node's Response encodes it to.
 */
async function asMultipartBytes(init: RequestInit): Promise<Pick<RequestInit, 'body' | 'headers'>> {
  if (!(init.body instanceof FormData)) return {};
  const encoded = new Response(init.body);
  const headers = new Headers(init.headers);
  headers.set('content-type', encoded.headers.get('content-type') as string);
  return { body: Buffer.from(await encoded.arrayBuffer()), headers };
}

/**
 * The `fetch` the OpenAI SDK is given: the SDK still builds each request, applies its timeout,
 * retries with its backoff (honouring Retry-After) and turns failures into its error classes; this
 * only carries the bytes, over undici's request API and the shared pool. undici's own fetch, with its
 * WHATWG streams, cost more CPU per call than everything else the service does for POST /answer.
 *
 * The reply body is read whole (up to `maxReplyBytes`) before the Response is returned, which suits
 * the JSON calls this service makes (never a streamed reply). A body other than a string (e.g. a file
 * upload) goes through undici's fetch unchanged.
 */
export function createUpstreamFetch(dispatcher: Dispatcher, maxReplyBytes: number): typeof globalThis.fetch {
  return async (input, init = {}) => {
    const plainCall = (typeof input === 'string' || input instanceof URL) && (init.body === undefined || init.body === null || typeof init.body === 'string');
    if (!plainCall) {
      return (await undiciFetch(input as Parameters<typeof undiciFetch>[0], { ...init, ...(await asMultipartBytes(init)), dispatcher } as Parameters<typeof undiciFetch>[1])) as unknown as Response;
    }
    const url = typeof input === 'string' ? input : (input as URL).href;
    const reply = await request(url, {
      method: (init.method ?? 'GET') as Dispatcher.HttpMethod,
      headers: requestHeaders(init.headers),
      body: (init.body as string | null | undefined) ?? undefined,
      signal: init.signal ?? undefined,
      dispatcher,
    });
    let text: string;
    try {
      text = await readCappedBody(reply.body, reply.headers, maxReplyBytes);
    } catch (error) {
      if (!(error instanceof UpstreamReplyTooLargeError)) throw error;
      // The SDK retries whatever its fetch throws as a connection failure; a body that fails as it is
      // read reaches the caller as it is, once: a reply too large will be as large next time.
      return new Response(new ReadableStream({ start: (controller) => controller.error(error) }), { status: reply.statusCode, headers: headerPairs(reply.headers) });
    }
    return new Response(NULL_BODY_STATUSES.has(reply.statusCode) ? null : text, {
      status: reply.statusCode,
      headers: headerPairs(reply.headers),
    });
  };
}
