import 'dotenv/config';
import { setTimeout as sleep } from 'node:timers/promises';
import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { trackInFlightRequests } from './plugins/in-flight.js';

/** After the grace period, how long the 503s to the requests still going have to reach their callers. */
const LAST_REPLIES_MS = 500;

async function start() {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }

  let app;
  try {
    app = await buildApp({ config });
  } catch (error) {
    // A bad MODELS_FILE or data file is a configuration problem: say which, without a stack trace.
    console.error(error instanceof ConfigError ? error.message : error);
    process.exit(1);
  }

  const inFlight = trackInFlightRequests(app);
  // SIGTERM/SIGINT: stop accepting, let in-flight requests finish within the grace period; those still
  // going then get a 503 to retry elsewhere, and the process exits 0, since that is the shutdown as designed.
  // close-with-grace's own timer (exit 1) is the backstop for a close that hangs even after that.
  closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS + 4 * LAST_REPLIES_MS }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error');
    else app.log.info({ signal }, 'shutting down');
    const closed = app.close();
    const graceOver = await Promise.race([closed.then(() => false), sleep(config.SHUTDOWN_GRACE_MS, true, { ref: false })]);
    if (!graceOver) return;
    const answered = inFlight.answerAll();
    app.log.warn({ answered, grace_ms: config.SHUTDOWN_GRACE_MS }, 'grace period over: requests still going were answered 503');
    // The upstream calls behind those requests may still hold the connection pools open; once the 503s are
    // out there is nothing left to wait for, so the close gets a moment to finish and the process exits anyway.
    await Promise.race([closed, sleep(LAST_REPLIES_MS, undefined, { ref: false })]);
  });

  await app.listen({ port: config.PORT, host: config.HOST });
}

await start();
