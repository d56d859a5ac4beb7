import type { FastifyInstance, FastifyReply } from 'fastify';
import { AppError } from '../errors.js';

export interface InFlightRequests {
  /** Answers every request still going 503 `shutting_down`, and says how many there were. */
  answerAll(): number;
}

/**
 * The replies not yet sent, so that a shutdown that runs out of grace can still answer them: a caller
 * waiting on a slow upstream gets a clear 503 to retry elsewhere instead of a dropped connection.
 * Added from server.ts, before the app is ready: only a process that listens shuts down this way.
 */
export function trackInFlightRequests(app: FastifyInstance): InFlightRequests {
  const pending = new Set<FastifyReply>();
  app.addHook('onRequest', async (_request, reply) => {
    pending.add(reply);
  });
  app.addHook('onResponse', async (_request, reply) => {
    pending.delete(reply);
  });
  return {
    answerAll() {
      let answered = 0;
      for (const reply of pending) {
        pending.delete(reply);
        if (reply.sent || reply.raw.headersSent) continue;
        const error = new AppError(503, 'shutting_down', 'The service is shutting down and could not finish this request in time; retry it.', {
          headers: { 'retry-after': '1', connection: 'close' },
        });
        reply.code(503).headers(error.headers).send(error.toBody());
        answered += 1;
      }
      return answered;
    },
  };
}
