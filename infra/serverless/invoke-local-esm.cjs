'use strict';
// A local osls plugin. `osls invoke local` require()s a handler by its bare path, then with
// `.cjs`; our bundles are ES modules (`.mjs`), which it never tries. Next to the bundle it is about
// to invoke, write a CommonJS shim that require()s the ES module (Node 22 loads one that way).
// List it after serverless-esbuild, whose hook builds the bundle first.
const fs = require('node:fs');
const path = require('node:path');

class InvokeLocalEsm {
  constructor(serverless, options) {
    this.hooks = {
      'before:invoke:local:invoke': () => {
        const handler = serverless.service.getFunction(options.function).handler;
        const base = path.join(serverless.serviceDir, handler.slice(0, handler.lastIndexOf('.')));
        if (fs.existsSync(`${base}.mjs`)) {
          fs.writeFileSync(`${base}.cjs`, `module.exports = require(${JSON.stringify(`${base}.mjs`)});\n`);
        }
      },
    };
  }
}

module.exports = InvokeLocalEsm;
