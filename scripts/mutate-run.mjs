// Runs one test file as compiled into .mutate-build/ (Stryker's sandbox builds the module's test
// files and what they import with tsc once, see scripts/mutate.mjs): a test process per mutant
// then starts as plain Node, without compiling TypeScript again each time.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const file = process.argv[2];
if (!file) throw new Error('usage: node scripts/mutate-run.mjs test/FILE.test.ts');
await import(pathToFileURL(path.resolve('.mutate-build', file.replace(/\.ts$/, '.js'))).href);
