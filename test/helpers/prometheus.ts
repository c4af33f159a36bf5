/** The Prometheus text format read by family, for the metrics tests. */
import assert from 'node:assert/strict';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  type: string;
  samples: Sample[];
}

/** The Prometheus text format, by family (the name on its # TYPE line). */
export function parseFamilies(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  let current: Family | undefined;
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      families.set(type[1]!, (current = { type: type[2]!, samples: [] }));
      continue;
    }
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `unparsable metrics line: ${line}`);
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]));
    assert.ok(current, `sample before any # TYPE: ${line}`);
    current.samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return families;
}

/** The sum of a family's samples named `name` (default: the family's own name) whose labels include `labels`. */
export function total(families: Map<string, Family>, family: string, labels: Record<string, string> = {}, name = family): number {
  const f = families.get(family);
  assert.ok(f, `family ${family} in the scrape`);
  return f.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);
}
