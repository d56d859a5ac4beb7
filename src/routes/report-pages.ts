import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { RunIdParamsSchema } from '../schemas/evaluate.js';

/** The pages' folder: the same path from src/routes (tsx) and dist/routes (the build). */
export const PUBLIC_DIR = fileURLToPath(new URL('../../public/', import.meta.url));
const ASSETS_DIR = join(PUBLIC_DIR, 'assets');

/** Where the pages' scripts, style sheet and icon are served; a digest of their content follows. */
export const ASSETS_PREFIX = '/ui/';

/**
 * The pages hold no data: their scripts read the JSON API with the caller's key. Scripts, styles, fetches
 * and images only from this origin, no inline script or style, and no string ever reaches an HTML sink
 * (Trusted Types with no policy: `innerHTML = text` throws). The chart is shown from a blob: URL, which an
 * <img> draws without running any script in it. The key form is a dialog form: it never navigates, so a
 * key can never end up in a URL.
 */
export const REPORT_PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "script-src-attr 'none'",
  "style-src 'self'",
  "img-src 'self' blob:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)]))
    .sort();
}

/** A digest of the assets' names and content: a new release gets new URLs, so the old ones can be cached for good. */
export function assetsDigest(dir: string = ASSETS_DIR): string {
  const hash = createHash('sha256');
  for (const file of filesUnder(dir)) hash.update(relative(dir, file)).update('\0').update(readFileSync(file)).update('\0');
  return hash.digest('hex').slice(0, 12);
}

/**
 * The run list (/), a run's report (/evaluate/{run_id}/report) and its blind rating page
 * (/evaluate/{run_id}/rate): shells without data, public like /docs, and their assets. Read once at boot;
 * a change to public/ shows after a restart.
 */
export const reportPages: FastifyPluginAsyncZod = async (app) => {
  const assets = `${ASSETS_PREFIX}${assetsDigest()}/`;
  const shell = (file: string) => readFileSync(join(PUBLIC_DIR, file), 'utf8').replaceAll('{{assets}}', assets);
  const runList = shell('runs.html');
  const report = shell('report.html');
  const rate = shell('rate.html');
  const sendShell = (reply: FastifyReply, html: string) =>
    reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', REPORT_PAGE_CSP)
      // Small, and naming this release's assets: always asked for again, so a new release shows at once.
      .header('cache-control', 'no-cache')
      .send(html);

  await app.register(fastifyStatic, {
    root: ASSETS_DIR,
    prefix: assets,
    decorateReply: false,
    index: false,
    list: false,
    immutable: true,
    maxAge: '365d',
  });

  app.get('/', { schema: { hide: true } }, async (_request, reply) => sendShell(reply, runList));
  // Any well-formed id gets the page: whether the run exists is for the API to say, to a caller with a key.
  app.get('/evaluate/:run_id/report', { schema: { hide: true, params: RunIdParamsSchema } }, async (_request, reply) => sendShell(reply, report));
  app.get('/evaluate/:run_id/rate', { schema: { hide: true, params: RunIdParamsSchema } }, async (_request, reply) => sendShell(reply, rate));
};
