#!/usr/bin/env node
// Re-scores a module after its survivors got tests, without running every mutant again (a run of
// a whole module takes an hour on the shared machine). Tests are only ever added, so a mutant a
// full run killed on a line that has not changed since stays killed; what must run again is every
// line that changed since that run and every line where a mutant survived or was not covered.
//   node scripts/mutate-rescore.mjs plan BASE.json
//     prints the MUTATE_ONLY value for those lines (the base report holds each file's source)
//   node scripts/mutate-rescore.mjs score BASE.json NEW.json [COMMIT]
//     the module's score: the base run's killed mutants on lines the new run did not cover,
//     plus every mutant of the new run (a run with that MUTATE_ONLY). COMMIT: the commit the new
//     run was made at, when the files have changed since (its mutants' lines are that commit's;
//     a report's sources are read when it is written).
// Usage in docs/testing.md, "Scores".
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const COUNTED = new Set(['Killed', 'Timeout', 'Survived', 'NoCoverage']);
const KILLED = new Set(['Killed', 'Timeout']);

/** For each line of `before` (1-based), its line in `after` when unchanged, by longest common subsequence. */
function lineMap(before, after) {
  const a = before.split('\n');
  const b = after.split('\n');
  const lcs = Array.from({ length: a.length + 1 }, () => new Uint16Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  }
  const map = new Map();
  for (let i = 0, j = 0; i < a.length && j < b.length; ) {
    if (a[i] === b[j]) map.set(++i, ++j);
    else if (lcs[i + 1][j] >= lcs[i][j + 1]) i++;
    else j++;
  }
  return { map, newLines: b.length };
}

/** Line ranges ("a-b") covering the given sorted line numbers. */
function ranges(lines) {
  const out = [];
  for (const n of [...lines].sort((x, y) => x - y)) {
    const last = out[out.length - 1];
    if (last && n === last[1] + 1) last[1] = n;
    else out.push([n, n]);
  }
  return out.map(([a, b]) => `${a}-${b}`);
}

const [mode, basePath, newPath, commit] = process.argv.slice(2);
const sourceOf = (file) => (commit ? execFileSync('git', ['show', `${commit}:${file}`], { encoding: 'utf8' }) : readFileSync(file, 'utf8'));
if (!['plan', 'score'].includes(mode) || !basePath || (mode === 'score' && !newPath)) {
  console.error('usage: mutate-rescore.mjs plan BASE.json | score BASE.json NEW.json');
  process.exit(2);
}
const base = JSON.parse(readFileSync(basePath, 'utf8'));

if (mode === 'plan') {
  const only = [];
  for (const [file, { source, mutants }] of Object.entries(base.files)) {
    const { map, newLines } = lineMap(source, readFileSync(file, 'utf8'));
    const unchanged = new Set(map.values());
    const rerun = new Set();
    for (let n = 1; n <= newLines; n++) if (!unchanged.has(n)) rerun.add(n);
    for (const m of mutants) {
      if (m.status !== 'Survived' && m.status !== 'NoCoverage') continue;
      for (let n = m.location.start.line; n <= m.location.end.line; n++) if (map.has(n)) rerun.add(map.get(n));
    }
    only.push(...ranges(rerun).map((r) => `${file}:${r}`));
  }
  console.log(only.join(','));
} else {
  const fresh = JSON.parse(readFileSync(newPath, 'utf8'));
  let killed = 0;
  let counted = 0;
  for (const [file, { source, mutants }] of Object.entries(base.files)) {
    const now = fresh.files[file];
    const { map } = lineMap(source, sourceOf(file));
    const rerunLines = new Set((now?.mutants ?? []).flatMap((m) => Array.from({ length: m.location.end.line - m.location.start.line + 1 }, (_, k) => m.location.start.line + k)));
    let carried = 0;
    let carriedCounted = 0;
    for (const m of mutants) {
      if (!COUNTED.has(m.status)) continue;
      const lines = Array.from({ length: m.location.end.line - m.location.start.line + 1 }, (_, k) => map.get(m.location.start.line + k));
      if (lines.some((n) => n === undefined || rerunLines.has(n))) continue; // changed, or run again
      carriedCounted++;
      if (KILLED.has(m.status)) carried++;
      else console.log(`  carried over, ${m.status}: ${file}:${m.location.start.line} (now ${lines[0]}) ${m.mutatorName} ${JSON.stringify(m.replacement ?? '')}`);
    }
    const again = (now?.mutants ?? []).filter((m) => COUNTED.has(m.status));
    const againKilled = again.filter((m) => KILLED.has(m.status)).length;
    killed += carried + againKilled;
    counted += carriedCounted + again.length;
    console.log(`${file}: ${carried} of ${carriedCounted} carried over killed, ${againKilled} of ${again.length} run again killed: ${(100 * (carried + againKilled) / (carriedCounted + again.length)).toFixed(1)}%`);
    for (const m of again) if (!KILLED.has(m.status)) console.log(`  ${m.status} ${file}:${m.location.start.line}:${m.location.start.column} ${m.mutatorName} ${JSON.stringify(m.replacement ?? '')}`);
  }
  console.log(`score: ${(100 * killed / counted).toFixed(1)}% (${killed} of ${counted})`);
}
