// The entry point of the curl stand-in (curl.ts says what it is and is not).
import { curl } from './curl.js';

process.exitCode = await curl(process.argv.slice(2), process.stdout, process.stderr);
