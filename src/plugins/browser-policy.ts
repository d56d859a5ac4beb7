import fastifyCors from '@fastify/cors';
import fp from 'fastify-plugin';
import helmet from 'helmet';

/**
 * The service speaks plain HTTP (TLS, if any, ends in front of it). Telling a browser to upgrade
 * subresources to https would leave Swagger UI blank when it is opened by any host but localhost.
 */
export function withoutUpgradeInsecureRequests(policy: string): string {
  return policy
    .split(';')
    .map((directive) => directive.trim())
    .filter((directive) => directive !== '' && directive !== 'upgrade-insecure-requests')
    .join('; ');
}

/**
 * Security headers on every reply, and CORS only for the configured origins. Registered before
 * access control so that a browser can read a 401 or 429, not just see a network error.
 */
export const browserPolicy = fp<{ corsOrigins: readonly string[] }>(
  async (app, { corsOrigins }) => {
    // helmet itself, built once: @fastify/helmet builds it again for every request, which cost more
    // CPU than the rest of the plugins together. Swagger UI's routes replace the Content-Security-Policy
    // with the one its maintainers keep in step with its assets.
    // No Strict-Transport-Security either: the service speaks plain HTTP and cannot know how TLS is set up in
    // front of it; HSTS, which would then pin the whole domain (and with includeSubDomains its subdomains)
    // to HTTPS for a year, is for the TLS terminator to send.
    const securityHeaders = helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } }, strictTransportSecurity: false });
    app.addHook('onRequest', (request, reply, done) => securityHeaders(request.raw, reply.raw, (error?: unknown) => done(error as Error | undefined)));

    if (corsOrigins.length === 0) return;
    await app.register(fastifyCors, {
      origin: corsOrigins.includes('*') ? '*' : [...corsOrigins],
      methods: ['GET', 'HEAD', 'POST', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'x-request-id'],
      exposedHeaders: ['x-request-id', 'retry-after', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'location', 'content-disposition'],
      maxAge: 600,
    });
  },
  { name: 'browser-policy' },
);
