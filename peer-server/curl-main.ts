// The entry point of the curl stand-in (curl.ts says what it is and is not). Bundled as CommonJS
// into an extensionless command, so no top-level await.
import { curl } from './curl.js';

void curl(process.argv.slice(2), process.stdout, process.stderr).then((code) => {
  process.exitCode = code;
});
