import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import fp from 'fastify-plugin';
import { retirementWarning } from '../models/registry.js';
import type { Services } from '../services.js';

const WILDCARDS = new Set(['0.0.0.0', '::']);

/**
 * Once the server listens: one line per model alias (ready, or what it needs), the docs' address and the
 * reports folder, so that a first `npm start` says what works without reading JSON. They are ordinary log
 * lines, a message each (GET /models has the same facts as data): pretty on a terminal, JSON otherwise (LOG_FORMAT).
 */
export const bootReport = fp<{ services: Services }>(async (app, { services }) => {
  app.addHook('onListen', async function reportBoot() {
    const address = app.server.address() as AddressInfo | string | null;
    let origin: string | undefined;
    if (address && typeof address === 'object') {
      // Bound to every interface (the image's 0.0.0.0), the address to open in a browser on the host is loopback's.
      const host = WILDCARDS.has(address.address) ? 'localhost' : address.family === 'IPv6' ? `[${address.address}]` : address.address;
      origin = `http://${host}:${address.port}`;
    }
    for (const entry of services.registry.entries) {
      const availability = services.registry.availability(entry);
      const where = entry.kind === 'openai' ? 'upstream' : 'offline';
      const state = availability.available ? `ready (${where})` : `not available: ${availability.reason}`;
      app.log.info(`model ${entry.alias} (${entry.model_id}): ${state}`);
      const retirement = retirementWarning(entry.kind === 'openai' ? entry.retires_on : undefined, new Date());
      if (retirement) app.log.warn({ alias: entry.alias, model_id: entry.model_id }, `model ${entry.alias} (${entry.model_id}) ${retirement}`);
    }
    if (origin) app.log.info(`API docs and "Try it out": ${origin}/docs`);
    app.log.info(`evaluation runs are kept in ${resolve(services.config.REPORTS_DIR)}`);
  });
});
