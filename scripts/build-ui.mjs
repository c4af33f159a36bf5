#!/usr/bin/env node
// Bundles the web UI (src/ui, its own tsconfig) with esbuild into dist/ui: one script and one
// stylesheet named by content hash, and index.html naming them. Run by `npm run build` and by
// `prepare` (so `npm ci` builds it); the server reads dist/ui at start-up (src/api/ui/assets.ts).
import { build } from 'esbuild';
import { readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'ui');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const result = await build({
  entryPoints: [join(root, 'src/ui/main.tsx')],
  bundle: true,
  minify: true,
  sourcemap: 'linked',
  format: 'esm',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  outdir: out,
  metafile: true,
  logLevel: 'warning',
  tsconfig: join(root, 'src/ui/tsconfig.json'),
});

const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
const script = outputs.find((f) => f.endsWith('.js'));
const style = outputs.find((f) => f.endsWith('.css'));
if (!script || !style) throw new Error(`build-ui: expected a script and a stylesheet, got ${outputs.join(', ')}`);
const page = readFileSync(join(root, 'src/ui/index.html'), 'utf8').replace('%SCRIPT%', `_ui/${script}`).replace('%STYLE%', `_ui/${style}`);
writeFileSync(join(out, 'index.html'), page);
