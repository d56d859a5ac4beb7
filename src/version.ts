/** The API's version, as the OpenAPI document and the upstream User-Agent give it. */
export const API_VERSION = '0.2.0';
