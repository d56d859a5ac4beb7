/**
 * compose.yaml, read statically (no engine runs here): PostgreSQL with a healthcheck, two API replicas and one
 * worker on the runs store in PostgreSQL, and an environment that the service's own config accepts, so that a
 * misspelt variable or a bad value fails here instead of being ignored, or stopping a container, at deploy time.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
// Already installed (a dependency of @fastify/swagger); `merge` reads the `<<: *anchor` keys the file uses.
import { parse } from 'yaml';
import { EnvSchema, loadConfig } from '../src/config.js';

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string | null>;
  healthcheck?: { test?: string[] | string };
  depends_on?: Record<string, { condition?: string }>;
  deploy?: { replicas?: number };
  ports?: string[];
  volumes?: string[];
}
interface Compose {
  version?: unknown;
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const source = readFileSync('compose.yaml', 'utf8');
const compose = parse(source, { merge: true }) as Compose;
const services = Object.entries(compose.services);
const withRole = (role: string) => services.filter(([, service]) => service.environment?.ROLE === role);
const ours = services.filter(([, service]) => service.image === 'amazon-electronics-ft');

/** What Compose substitutes: the variable's value, else the `:-` default, else "". */
const interpolate = (value: string | null, vars: Record<string, string>) =>
  (value ?? '').replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_, name: string, fallback?: string) => vars[name] || fallback || '');
const environmentOf = (service: Service, vars: Record<string, string>) =>
  // NODE_ENV=production and HOST come from the image's ENV.
  Object.fromEntries([['NODE_ENV', 'production'], ['HOST', '0.0.0.0'], ...Object.entries(service.environment ?? {}).map(([name, value]) => [name, interpolate(value, vars)])]);

t.test('compose.yaml follows the Compose Specification: no version key', async (t) => {
  t.equal(compose.version, undefined);
});

t.test('postgres: a named volume and a pg_isready healthcheck that the services wait for', async (t) => {
  const postgres = compose.services.postgres;
  t.ok(postgres, 'a postgres service');
  t.match(postgres?.image, /^postgres:15\b/);
  t.match([postgres?.healthcheck?.test].flat().join(' '), /pg_isready/);
  const volume = postgres?.volumes?.[0]?.split(':')[0];
  t.ok(volume && compose.volumes && volume in compose.volumes, `${volume} is a named volume`);
  t.match(postgres?.environment?.POSTGRES_PASSWORD, /^\$\{POSTGRES_PASSWORD:-.+\}$/, 'the password comes from the environment, with a dev default');
  t.ok(ours.length > 0);
  for (const [name, service] of ours) t.equal(service.depends_on?.postgres?.condition, 'service_healthy', `${name} waits for a healthy database`);
});

t.test('two API replicas on their own ports and one worker, all on the PostgreSQL runs store', async (t) => {
  const replicas = withRole('api').reduce((sum, [, service]) => sum + (service.deploy?.replicas ?? 1), 0);
  t.equal(replicas, 2, 'two API replicas');
  const hostPorts = withRole('api').flatMap(([, service]) => service.ports ?? []).map((port) => port.split(':')[0]);
  t.equal(new Set(hostPorts).size, 2, `each replica has its own host port (${hostPorts.join(', ')})`);
  const workers = withRole('worker');
  t.equal(workers.length, 1, 'one worker');
  t.same(workers[0]?.[1].command, ['node', 'dist/worker.js']);
  t.same(ours.map(([name]) => name).sort(), [...withRole('api'), ...workers].map(([name]) => name).sort(), 'every service of our image has a role');
  for (const [name, service] of ours) {
    t.equal(service.environment?.RUNS_STORE, 'postgres', `${name}: RUNS_STORE`);
    t.match(service.environment?.DATABASE_URL, /@postgres:5432\/evaluations$/, `${name}: DATABASE_URL points at the postgres service`);
    t.ok(service.build, `${name} is built from the Dockerfile`);
  }
});

t.test('every variable given to the service is one its config knows, with a value it accepts', async (t) => {
  const known = new Set(Object.keys(EnvSchema.shape));
  for (const [name, service] of ours) {
    for (const variable of Object.keys(service.environment ?? {})) t.ok(known.has(variable), `${name}: ${variable} is in src/config.ts`);
    const keys = { SERVICE_API_KEYS: 'compose-test-key-0123456789' };
    const config = loadConfig(environmentOf(service, keys));
    t.equal(config.ROLE, service.environment?.ROLE, `${name} boots with SERVICE_API_KEYS set`);
    t.equal(new URL(config.DATABASE_URL ?? '').password, interpolate(compose.services.postgres?.environment?.POSTGRES_PASSWORD ?? null, {}), `${name}: the URL's password is the database's`);
    const chosen = { ...keys, POSTGRES_PASSWORD: 'chosen-password' };
    t.equal(new URL(loadConfig(environmentOf(service, chosen)).DATABASE_URL ?? '').password, 'chosen-password', `${name}: and follows POSTGRES_PASSWORD`);
    // An open API in production must be a decision: with nothing set, the service refuses to start.
    t.throws(() => loadConfig(environmentOf(service, {})), /SERVICE_API_KEYS: required when NODE_ENV=production/);
  }
});

t.test('no empty `:-` default, which podman-compose 1.0 passes on as the text `${NAME:-}`', async (t) => {
  const strings = (value: unknown): string[] =>
    typeof value === 'string' ? [value] : value && typeof value === 'object' ? Object.values(value).flatMap(strings) : [];
  const values = strings(compose);
  t.ok(values.some((value) => value.includes('${')), 'the check sees the interpolated values');
  t.same(values.filter((value) => /\$\{\w+:?-\}/.test(value)), []);
});
