/**
 * `npm run worker`: the service as a worker (ROLE=worker) unless ROLE says otherwise. It executes the runs
 * stored in RUNS_STORE, taking those nobody executes every RUN_SWEEP_INTERVAL_MS, and answers /health and
 * /ready on PORT.
 */
process.env.ROLE ??= 'worker';
await import('./server.js');
