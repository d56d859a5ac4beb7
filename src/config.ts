import { createHash } from 'node:crypto';
import { z } from 'zod';
import { DEFAULT_RUBRIC_WEIGHTS, parseRubricWeights, type RubricWeights } from './scoring/rubric.js';

/** The prompt the fine-tune was trained with; changing it moves answers away from the training distribution. */
export const TRAINED_SYSTEM_PROMPT =
  "You are a helpful Amazon customer support assistant. Answer factually, concisely, and safely. Do not expose internal processes. For policy or availability details that vary by region or account, instruct the user to check 'Your Orders' or the checkout flow.";

export const DEFAULT_FT_MODEL_ID = 'ft:gpt-4.1-mini-2025-04-14:buldee:amazon-electronics-ft:CaOkOuOd';
export const DEFAULT_BASELINE_MODEL_ID = 'gpt-4.1-mini-2025-04-14';
export const DEFAULT_JUDGE_MODEL_ID = 'gpt-4.1-2025-04-14';
export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const API_STYLES = ['responses', 'chat'] as const;
export type ApiStyle = (typeof API_STYLES)[number];

// Environment values are strings; an empty string means "not set" so that `FOO=` in a .env file
// falls back to the default instead of failing number parsing.
// The default sits inside the preprocess, where the empty string has already become undefined.
const unset = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? undefined : value);
const envVar = <T extends z.ZodType>(schema: T) => z.preprocess(unset, schema);
const int = (min: number, max: number, fallback: number) => envVar(z.coerce.number().int().min(min).max(max).default(fallback));
const num = (min: number, max: number, fallback: number) => envVar(z.coerce.number().min(min).max(max).default(fallback));
const text = (fallback: string) => envVar(z.string().trim().min(1).default(fallback));
const optionalText = () => envVar(z.string().trim().min(1).optional());
const commaList = (value: string | undefined) => (value ?? '').split(',').map((item) => item.trim()).filter(Boolean);
const flag = () => envVar(z.enum(['true', 'false']).default('false').transform((value) => value === 'true'));

// The characters RFC 6750 allows in a bearer token, so that every configured key can actually be presented.
const BEARER_TOKEN = /^[A-Za-z0-9._~+/-]+=*$/;
const MIN_API_KEY_LENGTH = 16;

/**
 * A rater's name, as a person types it or a key's label gives it: 1 to 64 letters, digits, spaces, `.`, `_`
 * or `-`, not starting or ending with a space (two names that differ only there would be two raters).
 */
export const RATER_NAME = /^(?! )[\p{L}\p{N} ._-]{1,64}(?<! )$/u;
export const RATER_NAME_RULE = '1 to 64 letters, digits, spaces, . _ or -, not starting or ending with a space';

/** `label:key` or `key`. ':' is not a bearer-token character, so the last ':' always ends the label. */
export function splitKeyEntry(entry: string): { label: string | null; key: string } {
  const at = entry.lastIndexOf(':');
  return at === -1 ? { label: null, key: entry } : { label: entry.slice(0, at).trim(), key: entry.slice(at + 1).trim() };
}

/** The rater name of a key given without a label: a short hash, so that the key itself is never shown. */
export const defaultKeyLabel = (key: string) => `key-${createHash('sha256').update(key).digest('hex').slice(0, 8)}`;

/** One label per SERVICE_API_KEYS entry, in its order. */
const keyLabels = (raw: string | undefined) =>
  commaList(unset(raw) as string | undefined).map((entry) => {
    const { label, key } = splitKeyEntry(entry);
    return label ?? defaultKeyLabel(key);
  });

const apiKeyList = envVar(
  z
    .string()
    .optional()
    .transform(commaList)
    // The messages never quote a key, nor the entry that holds it: configuration errors are printed.
    .superRefine((entries, ctx) => {
      const split = entries.map(splitKeyEntry);
      if (!split.every(({ key }) => key.length >= MIN_API_KEY_LENGTH && BEARER_TOKEN.test(key))) {
        ctx.addIssue({
          code: 'custom',
          message: `every key must be at least ${MIN_API_KEY_LENGTH} characters of A-Z a-z 0-9 - . _ ~ + / (comma-separated, each optionally labelled as label:key)`,
        });
      }
      split.forEach(({ label }, index) => {
        if (label !== null && !RATER_NAME.test(label.normalize('NFC'))) {
          ctx.addIssue({ code: 'custom', message: `the label of entry ${index + 1} (before its ':') must be ${RATER_NAME_RULE}` });
        }
      });
    })
    .transform((entries) => entries.map((entry) => splitKeyEntry(entry).key)),
);

const isHttpOrigin = (value: string) => {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
  } catch {
    return false;
  }
};

const corsOrigins = envVar(
  z
    .string()
    .optional()
    .transform(commaList)
    .refine((origins) => (origins.includes('*') ? origins.length === 1 : origins.every(isHttpOrigin)), {
      message: 'expected `*` alone or comma-separated origins such as https://support.example.com (scheme, host and port only)',
    }),
);

const isPostgresUrl = (value: string) => URL.canParse(value) && ['postgres:', 'postgresql:'].includes(new URL(value).protocol);

/** The message never quotes the URL: it may hold a password, and configuration errors are printed. */
const databaseUrl = envVar(
  z
    .string()
    .trim()
    .optional()
    .refine((value) => value === undefined || isPostgresUrl(value), {
      message: 'expected a postgres:// or postgresql:// URL such as postgres://user:password@localhost:5432/evaluations (the value is not shown: it may hold a password)',
    }),
);

export const RUNS_STORES = ['file', 'postgres'] as const;
/** What a process does: `all` serves the API and executes runs; `api` only serves; `worker` only executes. */
export const ROLES = ['all', 'api', 'worker'] as const;
export type Role = (typeof ROLES)[number];

const NODE_ENVS = ['development', 'production', 'test'] as const;
const NODE_ENV_ALIASES: Record<string, (typeof NODE_ENVS)[number]> = {
  development: 'development',
  dev: 'development',
  production: 'production',
  prod: 'production',
  test: 'test',
};

export const EnvSchema = z.object({
  /**
   * Any casing, and the usual short forms, so that `Production` or `prod` can never start an open API by
   * not matching; anything else is refused rather than read as development.
   */
  NODE_ENV: envVar(
    z
      .string()
      .trim()
      .default('development')
      .transform((value) => NODE_ENV_ALIASES[value.toLowerCase()] ?? value)
      .pipe(z.enum(NODE_ENVS, { error: () => `expected one of ${Object.keys(NODE_ENV_ALIASES).join(', ')} (any casing)` })),
  ),
  PORT: int(0, 65535, 3000),
  HOST: text('127.0.0.1'),
  LOG_LEVEL: envVar(z.enum(LOG_LEVELS).default('info')),
  /** `auto`: readable lines on a terminal, JSON lines otherwise (a container, a pipe, a log collector). */
  LOG_FORMAT: envVar(z.enum(['auto', 'pretty', 'json']).default('auto')),

  OPENAI_API_KEY: optionalText(),
  OPENAI_BASE_URL: envVar(z.url({ protocol: /^https?$/ }).default(OPENAI_DEFAULT_BASE_URL)),
  OPENAI_API_STYLE: envVar(z.enum(API_STYLES).default('responses')),
  OPENAI_TIMEOUT_MS: int(100, 600_000, 30_000),
  /** Deadline of one answer call across all its attempts and backoff; at least OPENAI_TIMEOUT_MS. */
  OPENAI_TOTAL_TIMEOUT_MS: int(100, 3_600_000, 45_000),
  OPENAI_MAX_RETRIES: int(0, 10, 2),
  /** Longest upstream reply body read; a longer one is cut off at the cap and answered with 502. */
  UPSTREAM_MAX_REPLY_BYTES: int(1024, 1024 * 1024 * 1024, 4 * 1024 * 1024),
  /** Connections kept per upstream; bounds how many requests one upstream sees at once. */
  OPENAI_MAX_CONNECTIONS: int(1, 1024, 64),
  /** Consecutive upstream outages (after retries) that open an upstream's circuit breaker; 0 disables it. */
  CIRCUIT_BREAKER_FAILURES: int(0, 1000, 5),
  /** How long an open breaker refuses calls before it lets one probe through. */
  CIRCUIT_BREAKER_COOLDOWN_MS: int(100, 3_600_000, 30_000),

  FT_MODEL_ID: text(DEFAULT_FT_MODEL_ID),
  BASELINE_MODEL_ID: text(DEFAULT_BASELINE_MODEL_ID),
  SYSTEM_PROMPT: text(TRAINED_SYSTEM_PROMPT),
  TEMPERATURE: num(0, 2, 0.2),
  MAX_OUTPUT_TOKENS: int(16, 128_000, 300),
  SEED: int(-(2 ** 31), 2 ** 31 - 1, 42),
  MODELS_FILE: optionalText(),

  /** Folder of the training file (the offline model's knowledge base) and of data/prompt_sets. */
  DATA_DIR: text('data'),
  /** Below this match confidence (0..1) the offline model hands off instead of guessing. */
  RETRIEVAL_MIN_CONFIDENCE: num(0, 1, 0.35),

  /** The LLM judge's model (alias `judge`; MODELS_FILE can move it to another upstream). */
  JUDGE_MODEL_ID: text(DEFAULT_JUDGE_MODEL_ID),
  /** `accuracy=0.4,actionability=0.25,completeness=0.25,safety_tone=0.1` or the same as JSON; must sum to 1. */
  RUBRIC_WEIGHTS: envVar(
    z
      .string()
      .optional()
      .transform((value, ctx): RubricWeights => {
        if (value === undefined) return { ...DEFAULT_RUBRIC_WEIGHTS };
        try {
          return parseRubricWeights(value);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message });
          return z.NEVER;
        }
      }),
  ),
  /** Runs executed at once by this process; the others wait, visible as queued, and start oldest first. */
  MAX_RUNNING_RUNS: int(1, 64, 4),
  /**
   * How long a run's pair may wait, in all, for an upstream's open circuit breaker to close before it fails
   * with upstream_circuit_open: a short outage pauses a run instead of failing the pairs it hits.
   */
  RUN_MAX_OUTAGE_WAIT_MS: int(0, 86_400_000, 300_000),
  /** Seed of a run's bootstrap intervals and permutation tests: the same seed on the same results gives the same summary. */
  BOOTSTRAP_SEED: int(0, 2 ** 31 - 1, 20_250_414),
  /**
   * `file`: runs in REPORTS_DIR (no server). `postgres`: runs in DATABASE_URL's database, migrated at start and
   * shared by every replica pointed at it.
   */
  RUNS_STORE: envVar(z.enum(RUNS_STORES).default('file')),
  /**
   * `all` (default): the API and the execution of runs in one process. `api`: serves the API and leaves new runs
   * queued for a worker. `worker` (npm run worker): executes runs and answers only /health and /ready.
   */
  ROLE: envVar(z.enum(ROLES).default('all')),
  /** The PostgreSQL database of RUNS_STORE=postgres; its password is a secret, redacted everywhere. */
  DATABASE_URL: databaseUrl,
  /** Where evaluation runs and the case study's eval_results.csv are written. */
  REPORTS_DIR: text('reports'),
  /** While REPORTS_DIR's disk is full or unwritable (or the database away), runs pause and try their writes again this often. */
  STORAGE_RETRY_MS: int(100, 600_000, 5000),
  /**
   * How often each replica looks for runs nobody executes (queued, or left by a process that died) and takes
   * them, and how often a running run checks whether another replica cancelled it.
   */
  RUN_SWEEP_INTERVAL_MS: int(100, 600_000, 10_000),
  RUN_STATUS_POLL_MS: int(100, 60_000, 1000),
  /** How often a batch run (`mode: "batch"`) asks the Batch API how its batches are doing. */
  BATCH_POLL_MS: int(10, 3_600_000, 30_000),
  /** Requests per Batch API input file; the API takes at most 50,000, and a larger (phase, model) is split into parts. */
  BATCH_MAX_REQUESTS: int(1, 50_000, 50_000),
  /** How often each unfinished fine-tuning job is asked for its status, events and checkpoints (ROLE all or worker). */
  FINE_TUNE_POLL_MS: int(10, 3_600_000, 30_000),
  /** With RUNS_STORE=postgres, the jobs (upstream calls) one process that executes runs has under way at once, across runs. */
  WORKER_CONCURRENCY: int(1, 1024, 64),
  /** Ended runs older than this many days (since they ended) are deleted; 0 keeps them for ever. */
  RUN_RETENTION_DAYS: int(0, 36_500, 90),
  /** Past this total (bytes, all runs), the oldest ended runs are deleted until it fits; 0 sets no limit. */
  REPORTS_MAX_BYTES: int(0, 2 ** 50, 2 * 1024 ** 3),
  /** Queued or running runs one caller (API key, or client address without keys) may have; 0 sets no limit. */
  MAX_ACTIVE_RUNS_PER_CALLER: int(0, 1000, 8),
  /** Bytes one caller's runs may take in REPORTS_DIR before its new runs are refused; 0 sets no limit. */
  CALLER_MAX_STORED_BYTES: int(0, 2 ** 50, 512 * 1024 ** 2),
  /**
   * Seconds an evaluation run's answer is kept and reused by a later run that sends the very same upstream request
   * (REPORTS_DIR/cache/ with the file store, the database with RUNS_STORE=postgres); 0 (the default) keeps none.
   * Interactive /answer and /compare always call the model.
   */
  RESPONSE_CACHE_TTL_S: int(0, 365 * 86_400, 0),
  /** Answers the response cache keeps at most; past it the ones that expire first go at the next sweep. */
  RESPONSE_CACHE_MAX_ENTRIES: int(1, 10_000_000, 100_000),

  /** How long SIGTERM waits for in-flight requests before exiting anyway. */
  SHUTDOWN_GRACE_MS: int(0, 120_000, 10_000),

  /** Keys callers present as `Authorization: Bearer <key>`; empty leaves the API open. */
  SERVICE_API_KEYS: apiKeyList,
  /** Must be `true` to run with NODE_ENV=production and no SERVICE_API_KEYS, so that an open API is a decision. */
  ALLOW_ANONYMOUS: flag(),
  /** Requests per caller (API key, or client IP without keys) per window; 0 disables rate limiting. */
  RATE_LIMIT_MAX: int(0, 1_000_000, 120),
  RATE_LIMIT_WINDOW_MS: int(1000, 86_400_000, 60_000),
  /**
   * A whole request (headers and body) must arrive within this; a client dripping bytes gets 408 and its
   * connection closed, instead of holding a socket for as long as it likes.
   */
  REQUEST_TIMEOUT_MS: int(1000, 600_000, 30_000),
  /** The request's headers must arrive within this. */
  HEADERS_TIMEOUT_MS: int(1000, 600_000, 10_000),
  /** Open connections at once; past it new ones are refused, well before the process runs out of file descriptors. */
  MAX_CONNECTIONS: int(1, 1_000_000, 4096),
  /** Largest request body accepted by every route except POST /evaluate, which takes up to 24 MiB, and POST /fine-tunes, up to 16 MiB. */
  BODY_LIMIT_BYTES: int(1024, 100 * 1024 * 1024, 1024 * 1024),
  /** Mean event-loop delay above which requests are shed with 503; 0 disables the check. */
  MAX_EVENT_LOOP_DELAY_MS: int(0, 60_000, 1000),
  /**
   * Event-loop utilization (0..1, per sample interval) above which requests are shed with 503; 0 (the
   * default) disables the check. An offline evaluation run keeps utilization near 1 while requests are
   * still served in milliseconds, so utilization alone would refuse the API during every such run;
   * the delay is what callers feel.
   */
  MAX_EVENT_LOOP_UTILIZATION: num(0, 1, 0),
  /** How often the event loop is sampled for load shedding (10 ms is the monitor's resolution). */
  EVENT_LOOP_SAMPLE_INTERVAL_MS: int(10, 60_000, 1000),
  /** Origins allowed to call the API from a browser: `*` or comma-separated origins; empty sends no CORS headers. */
  CORS_ORIGINS: corsOrigins,
});

export type Env = z.infer<typeof EnvSchema>;

export interface Config extends Env {
  /** The raw environment, kept so that per-alias API-key variables can be looked up by name. */
  readonly secrets: Readonly<Record<string, string | undefined>>;
  /**
   * The rater name of each SERVICE_API_KEYS key, in the same order: its label (`alice:KEY`), or
   * `key-` and the first 8 hex digits of the key's SHA-256 when it has none. Never the key.
   */
  readonly serviceKeyLabels: readonly string[];
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Validates the environment once, at boot. Every problem is reported with the variable's name. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = issue.path.join('.');
      const value = env[name];
      const shown = value === undefined || /KEY|SECRET|TOKEN|DATABASE_URL/i.test(name) ? '' : ` (got ${JSON.stringify(value)})`;
      return `  ${name}: ${issue.message}${shown}`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const { NODE_ENV, SERVICE_API_KEYS, ALLOW_ANONYMOUS, OPENAI_TIMEOUT_MS, OPENAI_TOTAL_TIMEOUT_MS } = parsed.data;
  if (OPENAI_TOTAL_TIMEOUT_MS < OPENAI_TIMEOUT_MS) {
    throw new ConfigError(
      `Invalid configuration:\n  OPENAI_TOTAL_TIMEOUT_MS: must be at least OPENAI_TIMEOUT_MS (${OPENAI_TIMEOUT_MS}), or no attempt could use its full timeout (got ${OPENAI_TOTAL_TIMEOUT_MS}).`,
    );
  }
  if (parsed.data.HEADERS_TIMEOUT_MS > parsed.data.REQUEST_TIMEOUT_MS) {
    throw new ConfigError(
      `Invalid configuration:\n  HEADERS_TIMEOUT_MS: must not exceed REQUEST_TIMEOUT_MS (${parsed.data.REQUEST_TIMEOUT_MS}), which covers the headers too (got ${parsed.data.HEADERS_TIMEOUT_MS}).`,
    );
  }
  if (parsed.data.RUNS_STORE === 'postgres' && parsed.data.DATABASE_URL === undefined) {
    throw new ConfigError(
      'Invalid configuration:\n  DATABASE_URL: required when RUNS_STORE=postgres. Set it to a postgres:// URL such as postgres://user:password@localhost:5432/evaluations, or set RUNS_STORE=file.',
    );
  }
  if (NODE_ENV === 'production' && SERVICE_API_KEYS.length === 0 && !ALLOW_ANONYMOUS) {
    throw new ConfigError(
      'Invalid configuration:\n  SERVICE_API_KEYS: required when NODE_ENV=production. Set SERVICE_API_KEYS to one or more comma-separated keys, or set ALLOW_ANONYMOUS=true to serve without authentication.',
    );
  }
  return { ...parsed.data, serviceKeyLabels: keyLabels(env.SERVICE_API_KEYS).map((label) => label.normalize('NFC')), secrets: { ...env } };
}
