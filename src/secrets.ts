import type { Config } from './config.js';
import type { ModelRegistry } from './models/registry.js';

/** What a secret becomes wherever text leaves the process: replies, log lines, stored results. */
export const REDACTED = '[redacted]';

// Shorter values are not treated as secrets: they would match ordinary text (a 1-character "key" would
// redact that character everywhere). Service keys are validated to at least 16 characters at boot.
export const MIN_SECRET_LENGTH = 8;

// Query parameters that carry credentials in a base URL (Azure's `api-key`, `token`, SAS `sig`, ...).
const CREDENTIAL_PARAM = /key|token|secret|passw|pwd|sig|auth|credential/i;

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const decoded = (text: string) => {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
};

/** Whether a query parameter's name, as sent or decoded, says it carries a credential. */
export const isCredentialParameter = (name: string) => CREDENTIAL_PARAM.test(decoded(name));

/** The user, password and credential query parameters of a base URL (validated at boot), as written and decoded. */
function urlSecrets(raw: string): string[] {
  const url = new URL(raw);
  const values = [url.username, url.password, decoded(url.username), decoded(url.password)];
  for (const [name, value] of url.searchParams) if (CREDENTIAL_PARAM.test(name)) values.push(value);
  return values;
}

/** A URL fit to show: no user, no password, no credential query parameters. */
export function publicUrl(raw: string): string {
  if (!URL.canParse(raw)) return raw;
  const url = new URL(raw);
  url.username = '';
  url.password = '';
  for (const name of [...url.searchParams.keys()]) if (CREDENTIAL_PARAM.test(name)) url.searchParams.delete(name);
  return url.href;
}

/** Every secret the configuration holds: each alias's key, the service keys, credentials in any base URL. */
export function collectSecrets(config: Config, registry: ModelRegistry): string[] {
  const values: (string | undefined)[] = [config.OPENAI_API_KEY, ...config.SERVICE_API_KEYS, ...urlSecrets(config.OPENAI_BASE_URL)];
  if (config.DATABASE_URL !== undefined) values.push(...urlSecrets(config.DATABASE_URL));
  for (const entry of registry.entries) {
    if (entry.kind !== 'openai') continue;
    if (entry.upstream.api_key_env !== null) values.push(config.secrets[entry.upstream.api_key_env]);
    values.push(...urlSecrets(entry.upstream.base_url));
  }
  return values.filter((value): value is string => value !== undefined);
}

/** The ways an upstream may quote a secret back: as is, JSON-escaped, URL-encoded. */
function formsOf(secret: string): string[] {
  const json = JSON.stringify(secret).slice(1, -1);
  const url = encodeURIComponent(secret);
  return [secret, json, json.replaceAll('/', '\\/'), url, url.replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase())];
}

/**
 * A function that replaces every occurrence of the secrets (and of their encoded forms) with
 * `[redacted]`. The pattern is built once; text without a secret costs one regex test.
 */
export function createRedactor(secrets: Iterable<string>): (text: string) => string {
  const forms = new Set<string>();
  for (const secret of secrets) if (secret.length >= MIN_SECRET_LENGTH) for (const form of formsOf(secret)) forms.add(form);
  if (forms.size === 0) return (text) => text;
  // Longest first, so that where two secrets start at the same place the longer one is matched.
  const alternatives = [...forms].sort((a, b) => b.length - a.length).map(escapeRegExp).join('|');
  const anySecret = new RegExp(alternatives);
  // Zero-width, so that a secret starting inside another is found too; overlapping ranges are merged
  // and redacted whole, leaving no tail of either.
  const secretStart = new RegExp(`(?=(${alternatives}))`, 'g');
  return (text) => {
    if (!anySecret.test(text)) return text;
    let out = '';
    let copied = 0;
    let start = -1;
    let end = -1;
    secretStart.lastIndex = 0;
    for (let match = secretStart.exec(text); match; match = secretStart.exec(text)) {
      const matchEnd = match.index + (match[1] as string).length;
      if (match.index > end) {
        if (start >= 0) {
          out += `${text.slice(copied, start)}${REDACTED}`;
          copied = end;
        }
        start = match.index;
        end = matchEnd;
      } else {
        end = Math.max(end, matchEnd);
      }
      secretStart.lastIndex = match.index + 1;
    }
    return `${out}${text.slice(copied, start)}${REDACTED}${text.slice(end)}`;
  };
}

// Process-wide, because text leaves the process in many places (the logger, error replies, run files)
// that should not each be handed the configuration. Secrets are only ever added: an app built and
// closed in the same process (tests, the CLI) leaves its keys redacted, which can only over-redact.
const registered = new Set<string>();
let redactor = createRedactor([]);

/** Adds secrets to those redacted everywhere; called at boot with `collectSecrets`. */
export function registerSecrets(secrets: Iterable<string>): void {
  for (const secret of secrets) registered.add(secret);
  redactor = createRedactor(registered);
}

/** The text with every configured secret, in any of its encoded forms, replaced by `[redacted]`. */
export function redactSecrets(text: string): string {
  return redactor(text);
}
