import { createHash, timingSafeEqual } from 'node:crypto';
import type { SwaggerTransform } from '@fastify/swagger';
import type { FastifySchema } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** SHA-256 (hex) of the API key the caller presented, once verified; null when the route is open or auth is off. */
    apiKeyId: string | null;
  }
}

export const BEARER_SCHEME_NAME = 'bearerAuth';

export const bearerSecurityScheme = {
  type: 'http',
  scheme: 'bearer',
  description: 'One of the keys in SERVICE_API_KEYS. Required only when the service is started with SERVICE_API_KEYS set.',
} as const;

/** Liveness and readiness must answer orchestrators that hold no key; the docs show nothing secret. */
export function isPublicRoute(url: string | undefined): boolean {
  return url === '/health' || url === '/ready' || url === '/docs' || (url?.startsWith('/docs/') ?? false);
}

const sha256 = (value: string) => createHash('sha256').update(value).digest();

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

export const accessControl = fp<{ apiKeys: readonly string[] }>(
  async (app, { apiKeys }) => {
    app.decorateRequest('apiKeyId', null);
    if (apiKeys.length === 0) return;
    const verify = createApiKeyVerifier(apiKeys);

    app.addHook('onRequest', async (request) => {
      // A CORS preflight never carries credentials; @fastify/cors answers it when CORS is on.
      if (request.method === 'OPTIONS' || isPublicRoute(request.routeOptions.url)) return;
      const header = request.headers.authorization;
      if (!header) throw unauthorized('Missing API key: send the header `Authorization: Bearer <key>`.', 'Bearer');
      const presented = BEARER_HEADER.exec(header)?.[1];
      const keyId = presented === undefined ? null : verify(presented);
      if (keyId === null) throw unauthorized('Invalid API key.', 'Bearer error="invalid_token"');
      request.apiKeyId = keyId;
    });
  },
  { name: 'access-control' },
);
