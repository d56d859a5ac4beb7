/**
 * The least a Node proxy for POST /answer can do, as a yardstick for the service: node:http, the
 * same upstream request the service sends (same mapper, same shared undici pool), the answer
 * picked out of the reply, JSON back. No framework, validation, authentication, limits or logs. What
 * this adds to the direct figures is what the machine charges for one more process and two more
 * loopback hops; the service's added latency is only fairly judged above it.
 */
import { createServer } from 'node:http';
import { Agent, request } from 'undici';
import { loadConfig } from '../src/config.js';
import { fromResponsesResult, toResponsesRequest } from '../src/models/openai-wire.js';
import { buildModelRegistry, FINE_TUNED_ALIAS } from '../src/models/registry.js';
import { listenToParent, sendToParent } from './forked-process.js';

const config = loadConfig(process.env);
const entry = buildModelRegistry(config).resolve(FINE_TUNED_ALIAS);
if (entry.kind !== 'openai') throw new Error(`'${FINE_TUNED_ALIAS}' is not an OpenAI-backed alias in this configuration`);
const upstreamUrl = `${entry.upstream.base_url}/responses`;
const agent = new Agent({ connections: config.OPENAI_MAX_CONNECTIONS, keepAliveTimeout: 30_000 });
const headers = { 'content-type': 'application/json', authorization: `Bearer ${config.OPENAI_API_KEY ?? ''}` };

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', async () => {
    try {
      const { inquiry } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { inquiry: string };
      const started = performance.now();
      const reply = await request(upstreamUrl, { method: 'POST', headers, body: JSON.stringify(toResponsesRequest(entry, { inquiry })), dispatcher: agent });
      const result = fromResponsesResult((await reply.body.json()) as Parameters<typeof fromResponsesResult>[0]);
      const body = JSON.stringify({ ...result, model: entry.alias, model_id: entry.model_id, latency_ms: Math.round(performance.now() - started) });
      res.writeHead(reply.statusCode, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    } catch {
      res.writeHead(502).end();
    }
  });
});
server.keepAliveTimeout = 72_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the reference proxy did not listen on a TCP port');
  sendToParent({ type: 'ready', url: `http://127.0.0.1:${address.port}` });
});

listenToParent({
  async close() {
    server.close();
    await agent.close();
  },
});
