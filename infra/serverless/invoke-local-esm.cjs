'use strict';
// A local osls plugin. `osls invoke local` require()s a handler by its bare path, then with
// `.cjs`; our bundles are ES modules (`.mjs`), which it never tries. Point the function it is about
// to invoke at a CommonJS shim that require()s the bundle (Node 22 loads an ES module that way).
// The shim lives in the temporary folder, so it never ends up in a deployment package.
// List this plugin after serverless-esbuild, whose hook builds the bundle first.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

class InvokeLocalEsm {
  constructor(serverless, options) {
    this.hooks = {
      'before:invoke:local:invoke': () => {
        const fn = serverless.service.getFunction(options.function);
        const split = fn.handler.lastIndexOf('.');
        const [file, exported] = [fn.handler.slice(0, split), fn.handler.slice(split + 1)];
        const bundle = path.join(serverless.serviceDir, `${file}.mjs`);
        if (!fs.existsSync(bundle)) return;
        const shim = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'invoke-local-')), 'handler');
        fs.writeFileSync(`${shim}.cjs`, `module.exports = require(${JSON.stringify(bundle)});\n`);
        // osls joins the handler path to the service folder.
        fn.handler = `${path.relative(serverless.serviceDir, shim)}.${exported}`;
      },
    };
  }
}

module.exports = InvokeLocalEsm;
