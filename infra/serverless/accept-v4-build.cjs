'use strict';
// A local osls plugin. serverless.yml says `build: { esbuild: false }` for Serverless Framework v4,
// whose plugin loader refuses serverless-esbuild otherwise (PLUGIN_TYPESCRIPT_CONFLICT). osls has no
// `build` setting and rejects unknown top-level properties; this declares it, allowing that one
// value only. On v4, which defines `build` itself, it does nothing.
class AcceptV4Build {
  constructor(serverless) {
    const schema = serverless.configSchemaHandler;
    if (schema.schema.properties.build) return;
    schema.defineTopLevelProperty('build', {
      type: 'object',
      properties: { esbuild: { const: false } },
      required: ['esbuild'],
      additionalProperties: false,
    });
  }
}

module.exports = AcceptV4Build;
