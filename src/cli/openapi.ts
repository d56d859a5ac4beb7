import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { buildApp } from '../app.js';
import { loadConfig } from '../config.js';

/** The OpenAPI document as the code generates it, from a config that depends on nothing local. */
export async function generateOpenApiDocument(): Promise<string> {
  const app = await buildApp({ config: loadConfig({}), logger: false });
  await app.ready();
  const document = app.swagger();
  await app.close();
  return `${JSON.stringify(document, null, 2)}\n`;
}

export const OPENAPI_PATH = 'openapi/openapi.json';

if (import.meta.url === `file://${process.argv[1]}`) {
  const document = await generateOpenApiDocument();
  await mkdir(dirname(OPENAPI_PATH), { recursive: true });
  await writeFile(OPENAPI_PATH, document);
  console.log(`wrote ${OPENAPI_PATH}`);
}
