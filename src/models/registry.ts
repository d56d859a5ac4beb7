import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { API_STYLES, ConfigError, type ApiStyle, type Config } from '../config.js';
import { AppError, missingApiKey } from '../errors.js';
import { listPriceFor } from './pricing.js';

export const FINE_TUNED_ALIAS = 'fine-tuned';
export const BASELINE_ALIAS = 'baseline';
export const RETRIEVAL_ALIAS = 'retrieval';
/** The offline floor: always the safe hand-off, never an answer. */
export const HANDOFF_ALIAS = 'handoff';
export const HANDOFF_MODEL_ID = 'handoff:safe-reply';
export const JUDGE_ALIAS = 'judge';

export const AliasName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, 'letters, digits and . _ : - (at most 64)');

const ModelDefaultsSchema = z.strictObject({
  /** null: never send temperature (reasoning models reject anything but the default). */
  temperature: z.number().min(0).max(2).nullable().optional(),
  max_output_tokens: z.number().int().min(16).max(128_000).optional(),
  /** null: never send a seed. */
  seed: z.number().int().nullable().optional(),
});

const PricingSchema = z.strictObject({
  input_per_million: z.number().min(0),
  output_per_million: z.number().min(0),
});

/** One alias in MODELS_FILE. Unset fields inherit the service-wide settings from the environment. */
export const ModelFileEntrySchema = z.strictObject({
  model_id: z.string().trim().min(1).optional(),
  description: z.string().optional(),
  base_url: z.url({ protocol: /^https?$/ }).optional(),
  /** The environment variable that holds this upstream's key; null for servers that need none (vLLM, Ollama, llama.cpp). */
  api_key_env: z
    .string()
    .regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name')
    .nullable()
    .optional(),
  api_style: z.enum(API_STYLES).optional(),
  /** OpenAI wants max_completion_tokens; some OpenAI-compatible servers only know max_tokens. Chat style only. */
  max_tokens_param: z.enum(['max_completion_tokens', 'max_tokens']).optional(),
  system_prompt: z.string().trim().min(1).optional(),
  defaults: ModelDefaultsSchema.optional(),
  pricing: PricingSchema.optional(),
  /** The day the upstream stops serving this model (OpenAI's deprecation schedule), as YYYY-MM-DD. */
  retires_on: z.iso.date().optional(),
  /**
   * Whether the upstream has OpenAI's Batch API (files and batches), for batch runs. Default: true on the
   * service-wide upstream (OPENAI_BASE_URL), false for an alias with a base_url of its own (vLLM, Ollama...).
   */
  batch_api: z.boolean().optional(),
});

export const ModelsFileSchema = z.strictObject({
  models: z.record(AliasName, ModelFileEntrySchema).default({}),
});

export type ModelsFile = z.infer<typeof ModelsFileSchema>;
export type Pricing = z.infer<typeof PricingSchema>;

export interface UpstreamSettings {
  base_url: string;
  api_key_env: string | null;
  api_style: ApiStyle;
  max_tokens_param: 'max_completion_tokens' | 'max_tokens';
}

export interface ModelDefaults {
  temperature: number | null;
  max_output_tokens: number;
  seed: number | null;
}

/** A resolved alias backed by an OpenAI or OpenAI-compatible API, with no secret in it. */
export interface OpenAIModelEntry {
  alias: string;
  kind: 'openai';
  model_id: string;
  description: string;
  upstream: UpstreamSettings;
  system_prompt: string;
  defaults: ModelDefaults;
  pricing?: Pricing;
  /** When the upstream stops serving the model (YYYY-MM-DD), when configured. */
  retires_on?: string;
  /** Whether batch runs may send this alias's requests through the Batch API. */
  batch_api: boolean;
}

/** How far ahead a coming retirement is announced, in /models and in the boot's log. */
export const RETIREMENT_NOTICE_DAYS = 90;

/**
 * What to say of a model's retirement on `today`: nothing without a date or when it is further off than
 * RETIREMENT_NOTICE_DAYS; otherwise how many days are left, or that it has passed.
 */
export function retirementWarning(retiresOn: string | undefined, today: Date): string | null {
  if (retiresOn === undefined) return null;
  const days = Math.round((Date.parse(`${retiresOn}T00:00:00Z`) - Date.parse(`${today.toISOString().slice(0, 10)}T00:00:00Z`)) / 86_400_000);
  if (days > RETIREMENT_NOTICE_DAYS) return null;
  if (days <= 0) return `retired on ${retiresOn}: the upstream no longer serves it; point the alias at its successor.`;
  return `retires on ${retiresOn}, in ${days} day${days === 1 ? '' : 's'}: evaluate a successor and re-point the alias before then.`;
}

/**
 * An offline model: answers with the reference answer of the closest training example, or, for the
 * hand-off floor, always with the safe hand-off (what a support bot that knows nothing should say).
 */
export interface RetrievalModelEntry {
  alias: string;
  kind: 'retrieval';
  model_id: string;
  description: string;
  pricing?: Pricing;
  handoff_only?: boolean;
}

export type ModelEntry = OpenAIModelEntry | RetrievalModelEntry;

export interface ModelRegistry {
  readonly entries: readonly ModelEntry[];
  /** An alias, or a model id that some alias resolves to; anything else is a 400 listing what is allowed. */
  resolve(nameOrModelId: string): ModelEntry;
  /** The value of the entry's API key, or undefined when it is needed and not configured. */
  apiKeyFor(entry: OpenAIModelEntry): string | undefined;
  /** Whether the model can answer now, and if not, what to set. */
  availability(entry: ModelEntry): { available: true } | { available: false; reason: string };
  /**
   * Refuses (400) what `assign` would refuse, changing nothing: an offline alias, a malformed alias name, or a
   * `like` that is not an upstream alias. Checked before an assignment is stored.
   */
  checkAssignable(alias: string, like?: string): void;
  /**
   * Points `alias` at `modelId` in place, for every holder of the registry. An existing alias keeps its
   * upstream settings; a new one copies those of `like` (default 'fine-tuned'). The pricing is the model's list
   * price, else the MODELS_FILE pricing of the alias whose settings are used; a retirement date is not carried over.
   */
  assign(alias: string, modelId: string, like?: string): OpenAIModelEntry;
}

/** Reads and validates MODELS_FILE; a problem stops the boot with the file's name and the faulty path. */
export function readModelsFile(path: string): ModelsFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`MODELS_FILE ${path}: ${(error as Error).message}`);
  }
  const parsed = ModelsFileSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new ConfigError(`MODELS_FILE ${path} is invalid:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

function buildEntry(alias: string, file: z.infer<typeof ModelFileEntrySchema>, fallbackModelId: string | undefined, config: Config): OpenAIModelEntry {
  const model_id = file.model_id ?? fallbackModelId;
  if (!model_id) throw new ConfigError(`MODELS_FILE: alias '${alias}' needs a model_id`);
  const base_url = (file.base_url ?? config.OPENAI_BASE_URL).replace(/\/+$/, '');
  const descriptions: Record<string, string> = {
    [FINE_TUNED_ALIAS]: 'The fine-tuned support model.',
    [BASELINE_ALIAS]: 'The base model the fine-tune started from.',
    [JUDGE_ALIAS]: 'The LLM judge that scores answers on the rubric (JUDGE_MODEL_ID).',
  };
  // A judge must be as repeatable as the API allows; its answers are JSON verdicts, not prose.
  const isJudge = alias === JUDGE_ALIAS;
  return {
    alias,
    kind: 'openai',
    model_id,
    description: file.description ?? descriptions[alias] ?? `Model ${model_id}.`,
    upstream: {
      base_url,
      api_key_env: file.api_key_env === undefined ? 'OPENAI_API_KEY' : file.api_key_env,
      api_style: file.api_style ?? config.OPENAI_API_STYLE,
      max_tokens_param: file.max_tokens_param ?? 'max_completion_tokens',
    },
    system_prompt: file.system_prompt ?? config.SYSTEM_PROMPT,
    defaults: {
      temperature: file.defaults?.temperature === undefined ? (isJudge ? 0 : config.TEMPERATURE) : file.defaults.temperature,
      max_output_tokens: file.defaults?.max_output_tokens ?? (isJudge ? 1000 : config.MAX_OUTPUT_TOKENS),
      seed: file.defaults?.seed === undefined ? config.SEED : file.defaults.seed,
    },
    pricing: file.pricing ?? listPriceFor(model_id),
    ...(file.retires_on ? { retires_on: file.retires_on } : {}),
    batch_api: file.batch_api ?? file.base_url === undefined,
  };
}

export function buildModelRegistry(
  config: Config,
  modelsFile: ModelsFile = config.MODELS_FILE ? readModelsFile(config.MODELS_FILE) : { models: {} },
  retrieval?: { model_id: string; description: string; pricing?: Pricing },
): ModelRegistry {
  const fileModels = modelsFile.models;
  for (const reserved of [RETRIEVAL_ALIAS, HANDOFF_ALIAS]) {
    if (reserved in fileModels) throw new ConfigError(`MODELS_FILE: the alias '${reserved}' is reserved for an offline model`);
  }
  const builtIn: Record<string, string> = {
    [FINE_TUNED_ALIAS]: config.FT_MODEL_ID,
    [BASELINE_ALIAS]: config.BASELINE_MODEL_ID,
    [JUDGE_ALIAS]: config.JUDGE_MODEL_ID,
  };
  let entries: ModelEntry[] = [];
  for (const [alias, modelId] of Object.entries(builtIn)) {
    entries.push(buildEntry(alias, fileModels[alias] ?? {}, modelId, config));
  }
  if (retrieval) {
    entries.push({ alias: RETRIEVAL_ALIAS, kind: 'retrieval', ...retrieval });
    // A second offline model, so that a run with no key can still compare two models item by item.
    entries.push({
      alias: HANDOFF_ALIAS,
      kind: 'retrieval',
      model_id: HANDOFF_MODEL_ID,
      description: 'Offline floor: always the safe hand-off to Your Orders and Customer Service, never an answer. Compare a model with it to see what it adds over saying nothing. Needs no key and no network.',
      pricing: { input_per_million: 0, output_per_million: 0 },
      handoff_only: true,
    });
  }
  for (const [alias, file] of Object.entries(fileModels)) {
    if (!(alias in builtIn)) entries.push(buildEntry(alias, file, undefined, config));
  }

  let byAlias = new Map<string, ModelEntry>();
  let byModelId = new Map<string, ModelEntry>();
  // Rebuilt whole after an assignment, so that a route iterating the previous list never sees it change.
  const index = () => {
    byAlias = new Map(entries.map((entry) => [entry.alias, entry]));
    byModelId = new Map();
    for (const entry of entries) if (!byModelId.has(entry.model_id)) byModelId.set(entry.model_id, entry);
  };
  index();

  /** The upstream alias whose settings an assignment uses: the alias itself when it exists, else `like`. */
  const templateFor = (alias: string, like: string): OpenAIModelEntry => {
    const parsed = AliasName.safeParse(alias);
    if (!parsed.success) throw new AppError(400, 'validation_error', `Invalid alias '${alias}': ${parsed.error.issues[0]?.message}.`);
    const existing = byAlias.get(alias);
    const template = existing ?? byAlias.get(like);
    if (template === undefined) {
      throw new AppError(400, 'unknown_model', `Unknown alias '${like}' to copy the upstream settings of.`, { details: { allowed: [...byAlias.keys()] } });
    }
    if (template.kind === 'retrieval') {
      throw new AppError(400, 'offline_alias', `'${template.alias}' is an offline model; only aliases of upstream models can be assigned a model.`);
    }
    return template;
  };

  const apiKeyFor = (entry: OpenAIModelEntry) => {
    const variable = entry.upstream.api_key_env;
    // Local OpenAI-compatible servers ignore the key, but the SDK insists on having one.
    if (variable === null) return 'no-key-needed';
    return config.secrets[variable] || undefined;
  };

  return {
    get entries() {
      return entries;
    },
    apiKeyFor,
    checkAssignable(alias, like = FINE_TUNED_ALIAS) {
      templateFor(alias, like);
    },
    assign(alias, modelId, like = FINE_TUNED_ALIAS) {
      const template = templateFor(alias, like);
      const { retires_on: _notCarriedOver, ...settings } = template;
      const entry: OpenAIModelEntry = {
        ...settings,
        alias,
        model_id: modelId,
        description: `Assigned at run time to ${modelId} (POST /models/${alias}/promote or a fine-tuning job), with the upstream settings of '${template.alias}'.`,
        pricing: listPriceFor(modelId) ?? fileModels[template.alias]?.pricing,
      };
      const position = entries.findIndex((candidate) => candidate.alias === alias);
      entries = position === -1 ? [...entries, entry] : entries.map((candidate, at) => (at === position ? entry : candidate));
      index();
      return entry;
    },
    availability(entry) {
      if (entry.kind === 'retrieval' || apiKeyFor(entry) !== undefined) return { available: true };
      return { available: false, reason: `Set ${entry.upstream.api_key_env}.` };
    },
    resolve(nameOrModelId) {
      const entry = byAlias.get(nameOrModelId) ?? byModelId.get(nameOrModelId);
      if (entry) return entry;
      const allowed = [...byAlias.keys(), ...byModelId.keys()];
      throw new AppError(400, 'unknown_model', `Unknown model '${nameOrModelId}'. Use one of: ${[...new Set(allowed)].join(', ')}.`, {
        details: { allowed: [...new Set(allowed)] },
      });
    },
  };
}

/**
 * The alias's entry as it was when a run was created with `modelId`: an alias re-pointed since (a promote, a
 * fine-tune registered under it) keeps its upstream settings but answers with the run's model, so that the run's
 * record and summary stay true of every call it makes.
 */
export function pinnedEntry<T extends ModelEntry>(entry: T, modelId: string | null | undefined): T {
  if (modelId === undefined || modelId === null || entry.kind !== 'openai' || entry.model_id === modelId) return entry;
  return { ...entry, model_id: modelId, pricing: listPriceFor(modelId) };
}

/** Resolves every name before anything is called, refusing the same model twice (an alias and a model id it resolves to are one model). */
export function resolveDistinctModels(registry: ModelRegistry, names: readonly string[]): ModelEntry[] {
  const entries = names.map((name) => registry.resolve(name));
  const seen = new Map<string, string>();
  entries.forEach((entry, index) => {
    const name = names[index] ?? entry.alias;
    const earlier = seen.get(entry.alias);
    if (earlier !== undefined) {
      const same = earlier === name ? `'${name}' is listed twice` : `'${earlier}' and '${name}' are the same model (${entry.alias})`;
      throw new AppError(400, 'duplicate_model', `Invalid request: ${same}; each model may appear once.`, {
        details: { models: names, model: entry.alias },
      });
    }
    seen.set(entry.alias, name);
  });
  return entries;
}

/** The aliases that can answer now: the offline models always, the others once their key is set. */
export function availableAliases(registry: ModelRegistry): string[] {
  return registry.entries.filter((entry) => registry.availability(entry).available).map((entry) => entry.alias);
}

/** The 503 of a model whose key is not set: the variable to set, and the models that answer meanwhile. */
export function missingApiKeyFor(registry: ModelRegistry, entry: OpenAIModelEntry): AppError {
  return missingApiKey(entry.alias, entry.upstream.api_key_env ?? 'OPENAI_API_KEY', availableAliases(registry));
}

/** A 503 naming the variable to set, before anything is spent on a model that cannot answer. */
export function requireAvailable(registry: ModelRegistry, entry: ModelEntry): void {
  if (entry.kind === 'openai' && !registry.availability(entry).available) throw missingApiKeyFor(registry, entry);
}
