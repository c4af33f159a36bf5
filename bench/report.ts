/**
 * Aggregating repetitions into medians and printing the side-by-side table.
 */
import { median, type Metric, type Sample } from './scenario.js';
import type { ServerName } from './options.js';

export interface MetricSummary {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

export interface ScenarioResult {
  name: string;
  title: string;
  metrics: Metric[];
  servers: Partial<Record<ServerName, { summary: Record<string, MetricSummary>; errors: number; notes: string[] }>>;
  limit?: { summary: Record<string, MetricSummary>; errors: number; notes: string[] };
  loadavg: { before: number; after: number };
  /** Average cores used by processes outside the bench during each timed run. */
  otherCores: number[];
  /** Each server's peak RSS so far (MiB) when the scenario ended: shows which scenario raised it. */
  peakRssMiB: Record<string, number>;
  /** Each server's peak RSS and footprint (MiB) during this scenario alone (servers.ts, RssSampler). */
  ownPeakMiB: Record<string, { rss: number; footprint: number }>;
  seconds: number;
}

export function summarize(samples: Sample[], metrics: Metric[]): { summary: Record<string, MetricSummary>; errors: number; notes: string[] } {
  const summary: Record<string, MetricSummary> = {};
  for (const m of metrics) {
    const values = samples.map((s) => s.values[m.key]).filter((v): v is number => v !== undefined && Number.isFinite(v));
    summary[m.key] = {
      median: median(values),
      min: values.length ? Math.min(...values) : NaN,
      max: values.length ? Math.max(...values) : NaN,
      samples: values,
    };
  }
  const notes = [...new Set(samples.flatMap((s) => s.notes))];
  return { summary, errors: samples.reduce((n, s) => n + s.errors, 0), notes };
}

function fmt(v: number | undefined, digits: number): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** "512 ±4%": median and the half-width of the min–max range relative to it. */
function cell(s: MetricSummary | undefined, digits: number): string {
  if (!s || !Number.isFinite(s.median)) return '—';
  const spread = s.samples.length > 1 && s.median !== 0 ? ((s.max - s.min) / 2 / Math.abs(s.median)) * 100 : 0;
  return spread >= 1 ? `${fmt(s.median, digits)} ±${spread.toFixed(0)}%` : fmt(s.median, digits);
}

export interface TargetCheck {
  text: string;
  met: boolean | undefined;
}

export function checkTarget(m: Metric, berth: number | undefined, dist: number | undefined, t = m.target): TargetCheck {
  if (!t) return { text: '', met: undefined };
  if (t.ratio !== undefined) {
    const text = `${m.better === 'higher' ? '≥' : '≤'} ${t.ratio}×`;
    if (berth === undefined || dist === undefined || !Number.isFinite(berth) || !Number.isFinite(dist) || dist === 0) {
      return { text, met: undefined };
    }
    const r = berth / dist;
    return { text, met: m.better === 'higher' ? r >= t.ratio : r <= t.ratio };
  }
  if (t.max !== undefined) {
    const text = t.max === 0 ? '= 0' : `≤ ${t.max}${m.unit ? ' ' + m.unit : ''}`;
    return { text, met: berth === undefined || !Number.isFinite(berth) ? undefined : berth <= t.max };
  }
  return { text: '', met: undefined };
}

export interface Row {
  scenario: string;
  metric: string;
  berth: string;
  auto: string;
  distribution: string;
  ratio: string;
  ratioAuto: string;
  target: string;
  targetAuto: string;
  limit: string;
}

const ratioText = (b: number | undefined, d: number | undefined): string =>
  b !== undefined && d !== undefined && Number.isFinite(b) && Number.isFinite(d) && d !== 0 ? `${(b / d).toFixed(2)}×` : '—';
const targetText = (t: TargetCheck): string => (t.text ? `${t.text} ${t.met === undefined ? '?' : t.met ? 'met' : 'MISSED'}` : '');

export function rows(results: ScenarioResult[], rss: Partial<Record<ServerName, number>>, footprint: Partial<Record<ServerName, number>> = {}): Row[] {
  const out: Row[] = [];
  for (const r of results) {
    for (const m of r.metrics) {
      const b = r.servers.berth?.summary[m.key];
      const a = r.servers['berth-auto']?.summary[m.key];
      const d = r.servers.distribution?.summary[m.key];
      if (m.onlyWhenMeasured && ![b, a, d].some((x) => x && Number.isFinite(x.median))) continue;
      out.push({
        scenario: r.title,
        metric: m.unit || m.key,
        berth: cell(b, m.digits),
        auto: cell(a, m.digits),
        distribution: cell(d, m.digits),
        ratio: ratioText(b?.median, d?.median),
        ratioAuto: ratioText(a?.median, d?.median),
        target: targetText(checkTarget(m, b?.median, d?.median)),
        targetAuto: a ? targetText(checkTarget(m, a.median, d?.median, m.autoTarget ?? m.target)) : '',
        limit: cell(r.limit?.summary[m.key], m.digits),
      });
    }
  }
  const rb = rss.berth;
  const ra = rss['berth-auto'];
  const rd = rss.distribution;
  const rt = rb === undefined ? undefined : rb <= 150;
  out.push({
    scenario: 'peak RSS over the run (all processes)',
    metric: 'MiB',
    berth: fmt(rb, 0),
    auto: fmt(ra, 0),
    distribution: fmt(rd, 0),
    ratio: ratioText(rb, rd),
    ratioAuto: ratioText(ra, rd),
    target: `≤ 150 MiB ${rt === undefined ? '?' : rt ? 'met' : 'MISSED'}`,
    targetAuto: '',
    limit: '',
  });
  // The RSS sum counts the pages the processes share (the node binary in each worker) once per process.
  const f = footprint;
  out.push({
    scenario: 'peak RSS, shared file pages counted once',
    metric: 'MiB',
    berth: fmt(f.berth, 0),
    auto: fmt(f['berth-auto'], 0),
    distribution: fmt(f.distribution, 0),
    ratio: ratioText(f.berth, f.distribution),
    ratioAuto: ratioText(f['berth-auto'], f.distribution),
    target: '',
    targetAuto: '',
    limit: '',
  });
  return out;
}

const HEADER: Row = {
  scenario: 'scenario',
  metric: 'unit',
  berth: 'Berth (workers: 1)',
  auto: 'Berth (workers: auto)',
  distribution: 'Distribution 2.8.2',
  ratio: 'ratio',
  ratioAuto: 'ratio (auto)',
  target: 'target',
  targetAuto: 'target (auto)',
  limit: 'nginx limit',
};

export function markdownTable(all: Row[]): string {
  const cols = Object.keys(HEADER) as (keyof Row)[];
  const lines = [HEADER, ...all].map((r) => `| ${cols.map((c) => r[c]).join(' | ')} |`);
  lines.splice(1, 0, `|${cols.map(() => '---').join('|')}|`);
  return lines.join('\n');
}

export function textTable(all: Row[]): string {
  const cols = Object.keys(HEADER) as (keyof Row)[];
  const width = (c: keyof Row): number => Math.max(...[HEADER, ...all].map((r) => r[c].length));
  const w = Object.fromEntries(cols.map((c) => [c, width(c)])) as Record<keyof Row, number>;
  const line = (r: Row): string => cols.map((c) => r[c].padEnd(w[c])).join('  ');
  return [line(HEADER), cols.map((c) => '-'.repeat(w[c])).join('  '), ...all.map(line)].join('\n');
}
