import { DATA_DIR } from './support-data.js';

/** The key the bench presents: authentication stays on, so its cost is part of what is measured. */
const SERVICE_API_KEY = 'bench-key-not-a-secret-0123456789';

export const SERVICE_AUTH_HEADERS = { authorization: `Bearer ${SERVICE_API_KEY}` } as const;

/**
 * The service as it runs in production, except: the fake upstream, no retries, no logs, a throwaway
 * reports folder, and a rate limit too high to trip (the limiter still runs on every request).
 */
export function serviceEnv(upstreamUrl: string, reportsDir: string): Record<string, string> {
  return {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'silent',
    SERVICE_API_KEYS: SERVICE_API_KEY,
    RATE_LIMIT_MAX: '1000000',
    RATE_LIMIT_WINDOW_MS: '60000',
    OPENAI_API_KEY: 'sk-bench-not-a-real-key',
    OPENAI_BASE_URL: upstreamUrl,
    OPENAI_API_STYLE: 'responses',
    OPENAI_MAX_RETRIES: '0',
    // An aliases file from the developer's environment could point an alias at a real upstream.
    MODELS_FILE: '',
    DATA_DIR,
    REPORTS_DIR: reportsDir,
  };
}
