import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fp from 'fastify-plugin';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { API_VERSION } from '../version.js';
import { BEARER_SCHEME_NAME, bearerSecurityScheme, withBearerSecurity } from './access-control.js';
import { withoutUpgradeInsecureRequests } from './browser-policy.js';

export const API_TITLE = 'Amazon Electronics support models';

/**
 * A Swagger UI plugin for SVG replies. Swagger UI 5 takes any media type that mentions xml for XML: it reads
 * the reply as text and prints it as markup (src/core/components/response-body.jsx tests /xml/ before
 * /^image\//), and it builds the documented example from the schema as XML, which for a string gives "XML
 * example cannot be generated" whatever example is given (get-xml-sample-schema.js). So a reply is drawn
 * by an <img> with a data: URL (the docs' Content-Security-Policy allows data: images, and an SVG in an
 * <img> runs no script), and the example is the schema's own, shown as the text it is.
 *
 * Written as browser JavaScript and made a function with `new Function`: @fastify/swagger-ui copies the
 * source of the functions in uiConfig into the page, and a function compiled from TypeScript by tsx
 * would carry helpers (`__name`) that the browser does not have.
 */
export const svgReplies = new Function(
  'system',
  `
  const React = system.React;
  const isSvg = (contentType) => /^image\\/svg\\+xml/i.test(contentType || '');
  return {
    wrapComponents: {
      responseBody: (Original) => (props) => {
        if (!isSvg(props.contentType) || typeof props.content !== 'string') return React.createElement(Original, props);
        return React.createElement(
          'div',
          null,
          React.createElement('h5', null, 'Response body'),
          React.createElement('img', {
            src: 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(props.content),
            alt: 'The reply, drawn',
            style: { maxWidth: '100%', background: 'white' },
          }),
        );
      },
    },
    afterLoad(loaded) {
      const sampleOf = loaded.fn.getSampleSchema;
      loaded.fn.getSampleSchema = (schema, contentType, config, exampleOverride) => {
        const example = exampleOverride !== undefined ? exampleOverride : schema && schema.examples && schema.examples[0];
        return isSvg(contentType) && typeof example === 'string' ? example : sampleOf(schema, contentType, config, exampleOverride);
      };
    },
  };
`,
) as (system: { React: unknown }) => { wrapComponents: Record<string, unknown>; afterLoad: (system: { fn: Record<string, unknown> }) => void };

/** The OpenAPI document, generated from the routes' zod schemas, and Swagger UI at /docs. */
export const openApiDocs = fp(
  async (app) => {
    await app.register(fastifySwagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: API_TITLE,
          version: API_VERSION,
          description:
            'Use, compare and evaluate a fine-tuned support model against its base model. Models are configured aliases (GET /models); every error has the shape `{"error": {"code", "message", "details"?}}`. When the service runs with SERVICE_API_KEYS set, every endpoint except /health, /ready, the docs and the report pages (/, /evaluate/{run_id}/report and /evaluate/{run_id}/rate, HTML shells that read this API) requires `Authorization: Bearer <key>` (401 otherwise); callers are rate limited per key, or per client address without keys (429 with Retry-After), and an overloaded instance answers 503 with Retry-After.',
        },
        tags: [
          { name: 'answer', description: 'One answer from one model' },
          { name: 'compare', description: 'One inquiry to several models side by side, scored on the rubric' },
          { name: 'evaluate', description: 'Evaluation runs over a prompt set, with CSV, summary and chart' },
          { name: 'ratings', description: "Blind human rating of a run's answers, and the ratings for analysis" },
          { name: 'models', description: 'The configured model aliases' },
          { name: 'operations', description: 'Health and readiness' },
        ],
        // Declared whatever the environment, so that the committed document does not depend on it.
        components: { securitySchemes: { [BEARER_SCHEME_NAME]: bearerSecurityScheme } },
      },
      transform: withBearerSecurity(jsonSchemaTransform),
      transformObject: jsonSchemaTransformObject,
    });
    await app.register(fastifySwaggerUi, {
      routePrefix: '/docs',
      staticCSP: true,
      transformStaticCSP: withoutUpgradeInsecureRequests,
      theme: { title: `${API_TITLE}: API` },
      uiConfig: { plugins: [svgReplies] },
    });
  },
  { name: 'openapi-docs' },
);
