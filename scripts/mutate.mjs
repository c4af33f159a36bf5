#!/usr/bin/env node
// Mutation testing (StrykerJS) of the modules whose mistakes lose data or let someone in, each
// against the test files that cover it, so that one module's run takes minutes, not the suite's
// time. Not part of npm test. Usage:
//   npm run mutate                 every module below, one after another
//   npm run mutate -- names gc     only those
// Environment: MUTATE_CONCURRENCY, Stryker's concurrency (default 2: the type checker and one test
// process, or two test processes); MUTATE_ONLY, comma-separated Stryker mutate patterns narrowing
// one module's run to some of its files or lines (`src/auth/scope.ts`, `src/gc/collector.ts:238-272`),
// to re-run the survivors of a full run after their tests were written; MUTATE_TAG, a suffix for
// that run's report and tsconfig names (two narrowed runs of one module side by side).
// Each test file runs as its own Node process (Stryker's tap runner) with the mutant switched on
// in that process and in every child it starts; a mutant is run against the files that executed
// its code in the first, unmutated run, and stops at the first that fails. The test files are
// the fast ones that exercise a module directly (docs/testing.md).
// Survivors and their reasons: docs/testing.md. Reports: reports/mutation/<module>.{html,json}.
import { writeFileSync } from 'node:fs';
import './mutate-typescript.mjs';

const { Stryker } = await import('@stryker-mutator/core');
const typescriptHook = new URL('./mutate-typescript.mjs', import.meta.url).href;

export const MODULES = {
  // Digest grammar and verification, and the upload store: a blob is linked only under the
  // digest of the bytes received, whole (one POST) or in chunks, in order.
  uploads: {
    mutate: ['src/oci/digest.ts', 'src/storage/uploads.ts'],
    tests: ['test/oci/digest.test.ts', 'test/storage/uploads.test.ts'],
  },
  // The name and tag grammar and every storage path built from it (and read back from a path).
  names: {
    mutate: ['src/oci/names.ts', 'src/storage/paths.ts'],
    tests: ['test/oci/names.test.ts', 'test/storage/paths.test.ts'],
  },
  // The driver base wrapper: path and offset checks, error classification and timing for every driver.
  'driver-base': {
    mutate: ['src/storage/driver/base.ts'],
    tests: ['test/storage/factory.test.ts', 'test/storage/inmemory.test.ts', 'test/storage/driver-tracing.test.ts'],
  },
  // The manifest store: size limit, media types, references that must exist, tags.
  manifests: {
    mutate: ['src/storage/manifests/store.ts'],
    tests: ['test/storage/manifest-store.test.ts'],
  },
  // Which access each route needs, scope grammar and grants, per-repository permissions.
  access: {
    mutate: ['src/auth/access.ts', 'src/auth/scope.ts', 'src/auth/permissions.ts'],
    tests: ['test/auth/access-decisions.test.ts'],
  },
  // The collector's keep/delete decisions.
  gc: {
    mutate: ['src/gc/collector.ts', 'src/gc/references.ts'],
    tests: ['test/gc/decisions.test.ts'],
  },
  // Upload-state (`_state`) signing and checking.
  'upload-state': {
    mutate: ['src/storage/upload-token.ts'],
    tests: ['test/storage/upload-token.test.ts'],
  },
};

// Per module, so that runs of two modules may start side by side (ignored by git).
const runName = (name) => (process.env.MUTATE_TAG ? `${name}-${process.env.MUTATE_TAG}` : name);
const tsconfigs = (name) => ({ check: `tsconfig.mutate.${runName(name)}.json`, build: `tsconfig.mutate-build.${runName(name)}.json` });

function narrowed(module) {
  const only = process.env.MUTATE_ONLY?.split(',').map((p) => p.trim()).filter(Boolean);
  if (!only?.length) return module.mutate;
  const outside = only.filter((p) => !module.mutate.includes(p.replace(/:[\d:-]+$/, '')));
  if (outside.length) throw new Error(`MUTATE_ONLY: ${outside.join(', ')} not among the module's files (${module.mutate.join(', ')})`);
  return only;
}

function options(name, module) {
  const { check, build } = tsconfigs(name);
  return {
    mutate: narrowed(module),
    testRunner: 'tap',
    // The sandbox compiles the module's test files (and what they import, mutants included) to
    // JavaScript once; each test process then runs a compiled file with plain Node.
    buildCommand: `tsc -p ${build}`,
    tap: { testFiles: module.tests, nodeArgs: ['--test-reporter=tap', 'scripts/mutate-run.mjs', '{{testFile}}'], forceBail: true },
    coverageAnalysis: 'perTest',
    checkers: ['typescript'],
    checkerNodeArgs: ['--import', typescriptHook],
    // The checker compiles the mutated files and what they import, not the whole project: a
    // check per mutant then takes a fraction of the time (written below, ignored by git).
    tsconfigFile: check,
    typescriptChecker: { prioritizePerformanceOverAccuracy: true },
    concurrency: Number(process.env.MUTATE_CONCURRENCY ?? 2),
    // Tests start servers and child processes: a loaded machine is slow, not a mutant.
    timeoutMS: 60_000,
    timeoutFactor: 3,
    // The sandbox needs the sources, tests and configuration only.
    ignorePatterns: ['dist', 'docs', 'bench', 'examples', 'reports', '.bench-results', 'data', '.mutate-build'],
    tempDirName: '.stryker-tmp',
    cleanTempDir: 'always',
    reporters: ['clear-text', 'progress', 'html', 'json'],
    clearTextReporter: { reportTests: false, reportMutants: true, reportScoreTable: true },
    htmlReporter: { fileName: `reports/mutation/${runName(name)}.html` },
    jsonReporter: { fileName: `reports/mutation/${runName(name)}.json` },
    thresholds: { high: 90, low: 85, break: null },
  };
}

const wanted = process.argv.slice(2);
const unknown = wanted.filter((n) => !(n in MODULES));
if (unknown.length) {
  console.error(`mutate: unknown module(s) ${unknown.join(', ')}; known: ${Object.keys(MODULES).join(', ')}`);
  process.exit(2);
}
const summary = [];
for (const name of wanted.length ? wanted : Object.keys(MODULES)) {
  const started = Date.now();
  const json = (file, config) => writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  const { check, build } = tsconfigs(name);
  json(check, { extends: './tsconfig.json', compilerOptions: { types: ['node'] }, include: [], files: MODULES[name].mutate });
  json(build, {
    extends: './tsconfig.json',
    compilerOptions: { rootDir: '.', outDir: '.mutate-build', declaration: false, sourceMap: false, types: ['node'] },
    include: [],
    files: MODULES[name].tests,
  });
  const results = await new Stryker(options(name, MODULES[name])).runMutationTest();
  const counted = results.filter((r) => ['Killed', 'Timeout', 'Survived', 'NoCoverage'].includes(r.status));
  const killed = counted.filter((r) => r.status === 'Killed' || r.status === 'Timeout').length;
  const score = counted.length ? (100 * killed) / counted.length : 100;
  summary.push(`${runName(name)}: ${score.toFixed(1)}% killed (${killed} of ${counted.length}; ${results.length - counted.length} not compiled or ignored) in ${Math.round((Date.now() - started) / 1000)} s`);
}
console.log(`\nmutate:\n  ${summary.join('\n  ')}`);
