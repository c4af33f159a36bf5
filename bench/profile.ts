/**
 * Reads V8 .cpuprofile files (from `node --cpu-prof`) and lists where the time went: self time
 * per function and per source file. Usable on its own:
 *   node --import tsx bench/profile.ts DIR_OR_FILE [TOP]
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function shortUrl(url: string): string {
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const nm = path.lastIndexOf('node_modules/');
  if (nm >= 0) return path.slice(nm);
  return path.startsWith('/') ? relative(process.cwd(), path) : path || '(native)';
}

function summarizeOne(file: string, top: number): { busyUs: number; text: string } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  let total = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    const node = nodes.get(id);
    if (!node) return;
    const { functionName, url, lineNumber } = node.callFrame;
    total += us;
    if (functionName === '(idle)') {
      idle += us;
      return;
    }
    const where = shortUrl(url);
    const fnKey = `${functionName || '(anonymous)'}  ${where}${url ? `:${lineNumber + 1}` : ''}`;
    byFunction.set(fnKey, (byFunction.get(fnKey) ?? 0) + us);
    byFile.set(where, (byFile.get(where) ?? 0) + us);
  });
  const busy = total - idle;
  const list = (m: Map<string, number>, n: number): string =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => `  ${((us / busy) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`)
      .join('\n');
  const text = [
    `${basename(file)}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (percentages are of busy time)`,
    'self time by function:',
    list(byFunction, top),
    'self time by file:',
    list(byFile, Math.ceil(top / 2)),
  ].join('\n');
  return { busyUs: busy, text };
}

/** One summary per profile (each thread writes its own file), busiest first. */
export function summarizeProfiles(target: string, top = 25): string {
  const files = statSync(target).isDirectory()
    ? readdirSync(target)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => join(target, f))
    : [target];
  return files
    .map((f) => summarizeOne(f, top))
    .sort((a, b) => b.busyUs - a.busyUs)
    .map((s) => s.text)
    .join('\n\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const target = process.argv[2];
  if (!target) {
    console.error('usage: node --import tsx bench/profile.ts DIR_OR_FILE [TOP]');
    process.exit(2);
  }
  console.log(summarizeProfiles(target, Number(process.argv[3] ?? 25)));
}
