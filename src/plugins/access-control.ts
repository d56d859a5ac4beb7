import { createHash, timingSafeEqual } from 'node:crypto';
import type { SwaggerTransform } from '@fastify/swagger';
import type { FastifyRequest, FastifySchema } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** SHA-256 (hex) of the API key the caller presented, once verified; null when the route is open or auth is off. */
    apiKeyId: string | null;
    /** The label of that key in SERVICE_API_KEYS (`alice:KEY`), or `key-<8 hex>` for an unlabelled key; null with no key. */
    apiKeyLabel: string | null;
  }
}

export const BEARER_SCHEME_NAME = 'bearerAuth';

export const bearerSecurityScheme = {
  type: 'http',
  scheme: 'bearer',
  description: 'One of the keys in SERVICE_API_KEYS. Required only when the service is started with SERVICE_API_KEYS set.',
} as const;

/** The report pages' shells and their assets (src/routes/report-pages.ts): no data, which their scripts read with the key. */
const PUBLIC_PAGES = new Set(['/', '/evaluate/:run_id/report', '/evaluate/:run_id/rate']);

/**
 * Liveness and readiness must answer orchestrators that hold no key; the docs and the report pages show
 * nothing secret. `url` is the route's pattern, so /evaluate/{run_id}/items is never taken for a page.
 */
export function isPublicRoute(url: string | undefined): boolean {
  if (url === undefined) return false;
  return url === '/health' || url === '/ready' || url === '/docs' || url.startsWith('/docs/') || PUBLIC_PAGES.has(url) || url.startsWith('/ui/');
}

const sha256 = (value: string) => createHash('sha256').update(value).digest();

/**
 * Who is calling, for the rate limit and each caller's share of the reports folder: the start of the
 * SHA-256 of the caller's verified key (never the key), or the client address when no key is presented.
 */
export function callerOf(request: FastifyRequest): string {
  return request.apiKeyId ? `key:${request.apiKeyId.slice(0, 16)}` : `ip:${request.ip}`;
}

/**
 * Returns the digest (hex) of the presented key when it is one of `keys`, else null. Fixed-length
 * digests make timingSafeEqual applicable to keys of any length, and every key is compared so
 * that the time taken does not tell which one matched.
 */
export function createApiKeyVerifier(keys: readonly string[]): (presented: string) => string | null {
  const digests = keys.map(sha256);
  return (presented) => {
    const candidate = sha256(presented);
    let matched = false;
    for (const digest of digests) matched = timingSafeEqual(candidate, digest) || matched;
    return matched ? candidate.toString('hex') : null;
  };
}

const BEARER_HEADER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** Wrong or missing keys per client address and window before that address is refused outright (429). */
export const AUTH_FAILURES_MAX = 10;
export const AUTH_FAILURE_WINDOW_MS = 60_000;
/** Addresses remembered at once; past this the oldest window is forgotten first, so memory stays bounded. */
const AUTH_FAILURE_ADDRESSES = 10_000;

/**
 * Failed authentications per client address in fixed windows. The rate limit counts only callers that
 * got in; without this an attacker could try keys as fast as the service answers 401s.
 */
export function createAuthFailureTally(now: () => number = Date.now) {
  const windows = new Map<string, { started: number; failures: number }>();
  const current = (address: string) => {
    const window = windows.get(address);
    if (window && now() - window.started < AUTH_FAILURE_WINDOW_MS) return window;
    windows.delete(address);
    return undefined;
  };
  return {
    /** Seconds until the address may try again, or null while it is under the limit. */
    blockedFor(address: string): number | null {
      const window = current(address);
      if (!window || window.failures < AUTH_FAILURES_MAX) return null;
      return Math.max(1, Math.ceil((window.started + AUTH_FAILURE_WINDOW_MS - now()) / 1000));
    },
    fail(address: string): void {
      const window = current(address) ?? { started: now(), failures: 0 };
      window.failures += 1;
      windows.delete(address);
      windows.set(address, window);
      if (windows.size > AUTH_FAILURE_ADDRESSES) windows.delete(windows.keys().next().value as string);
    },
  };
}

function unauthorized(message: string, challenge: string): AppError {
  return new AppError(401, 'unauthorized', message, { headers: { 'www-authenticate': challenge } });
}

/** OpenAPI security of each operation, from the same rule the access hook applies. */
export function withBearerSecurity(transform: SwaggerTransform): SwaggerTransform {
  return (input) => {
    const output = transform(input);
    const schema: FastifySchema & { security: Array<Record<string, string[]>> } = {
      ...output.schema,
      security: isPublicRoute(input.url) ? [] : [{ [BEARER_SCHEME_NAME]: [] }],
    };
    return { ...output, schema };
  };
}

/** The label of each key, by the hex SHA-256 the verifier returns; two keys may share a label (a rotation). */
export function labelsByKeyId(apiKeys: readonly string[], labels: readonly string[]): ReadonlyMap<string, string> {
  return new Map(apiKeys.flatMap((key, index) => (labels[index] === undefined ? [] : [[sha256(key).toString('hex'), labels[index]] as const])));
}

export const accessControl = fp<{ apiKeys: readonly string[]; labels?: readonly string[] }>(
  async (app, { apiKeys, labels = [] }) => {
    app.decorateRequest('apiKeyId', null);
    app.decorateRequest('apiKeyLabel', null);
    if (apiKeys.length === 0) return;
    const verify = createApiKeyVerifier(apiKeys);
    const labelOf = labelsByKeyId(apiKeys, labels);
    const failures = createAuthFailureTally();

    app.addHook('onRequest', async (request) => {
      // A CORS preflight never carries credentials; @fastify/cors answers it when CORS is on.
      if (request.method === 'OPTIONS' || isPublicRoute(request.routeOptions.url)) return;
      const blocked = failures.blockedFor(request.ip);
      if (blocked !== null) {
        throw new AppError(429, 'too_many_auth_failures', `Too many requests with a missing or wrong API key from this address; retry in ${blocked} s.`, {
          headers: { 'retry-after': String(blocked) },
        });
      }
      const header = request.headers.authorization;
      const presented = header === undefined ? undefined : BEARER_HEADER.exec(header)?.[1];
      const keyId = presented === undefined ? null : verify(presented);
      if (keyId === null) {
        failures.fail(request.ip);
        if (!header) throw unauthorized('Missing API key: send the header `Authorization: Bearer <key>`.', 'Bearer');
        throw unauthorized('Invalid API key.', 'Bearer error="invalid_token"');
      }
      request.apiKeyId = keyId;
      request.apiKeyLabel = labelOf.get(keyId) ?? null;
    });
  },
  { name: 'access-control' },
);
