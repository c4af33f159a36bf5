/**
 * Metrics for hot paths. prom-client's own counters and histograms hash their label set on every
 * update, even through `labels(...)` children; here each label combination is resolved once into
 * a cell (a plain object of numbers) that callers keep, and an update is a few additions. The
 * families below implement what a prom-client Registry needs from a metric (name, help, type,
 * get), so they are scraped with everything else.
 */

type LabelValues = Record<string, string | number>;

/**
 * How the primary merges the workers' values of a family (prom-client's AggregatorRegistry, with
 * berth.workers above 1): `sum` for what each worker counts of its own requests; `max` for a
 * figure every worker keeps a copy of (summing it would count it once per worker).
 */
export type Aggregator = 'sum' | 'max';

interface MetricValue {
  labels: LabelValues;
  value: number;
  metricName?: string;
}

abstract class Family<Cell> {
  protected readonly cells = new Map<string, { labels: LabelValues; cell: Cell }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly aggregator: Aggregator = 'sum',
  ) {}

  /** The cell for one combination of label values (in labelNames order); resolve it once and keep it. */
  cell(...values: string[]): Cell {
    const key = values.join('\u0000');
    const found = this.cells.get(key);
    if (found) return found.cell;
    const labels: LabelValues = {};
    this.labelNames.forEach((name, i) => (labels[name] = values[i] ?? ''));
    const cell = this.create();
    this.cells.set(key, { labels, cell });
    return cell;
  }

  protected abstract create(): Cell;
  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  abstract get(): Promise<{ name: string; help: string; type: string; values: MetricValue[]; aggregator: Aggregator }>;

  reset(): void {
    this.cells.clear();
  }
}

export interface CounterCell {
  value: number;
}

/** A counter: `cell.value += n`. */
export class CounterFamily extends Family<CounterCell> {
  readonly type = 'counter' as const;

  protected create(): CounterCell {
    return { value: 0 };
  }

  async get() {
    const values = [...this.cells.values()].map(({ labels, cell }) => ({ labels, value: cell.value }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

/** A gauge kept in cells: `cell.value += 1`, `cell.value -= 1`. */
export class GaugeFamily extends Family<CounterCell> {
  readonly type = 'gauge' as const;

  protected create(): CounterCell {
    return { value: 0 };
  }

  async get() {
    const values = [...this.cells.values()].map(({ labels, cell }) => ({ labels, value: cell.value }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

/** A gauge whose values are read at scrape time from a callback, one per label combination. */
export class CallbackGaugeFamily extends Family<{ read: () => number }> {
  readonly type = 'gauge' as const;

  protected create() {
    return { read: () => 0 };
  }

  /** Registers (or replaces) the reader for a label combination. */
  set(read: () => number, ...values: string[]): void {
    this.cell(...values).read = read;
  }

  remove(...values: string[]): void {
    this.cells.delete(values.join('\u0000'));
  }

  async get() {
    const values = [...this.cells.values()].map(({ labels, cell }) => ({ labels, value: cell.read() }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

/** One sample a SampledGaugeFamily's source gives: its label values (in labelNames order) and value. */
export interface Sample {
  labels: readonly string[];
  value: number;
}

/**
 * A gauge whose whole set of samples is read at scrape time from its sources (label combinations
 * come and go with what they measure, such as repositories). Each source is added by one part
 * of a server and removed when it stops; a second server in the same process (tests) adds its own.
 */
export class SampledGaugeFamily extends Family<never> {
  readonly type = 'gauge' as const;
  private readonly sources = new Set<() => Iterable<Sample>>();

  protected create(): never {
    throw new Error(`${this.name}: samples come from its sources`);
  }

  /** Adds a source of samples; returns the function that removes it. */
  addSource(source: () => Iterable<Sample>): () => void {
    this.sources.add(source);
    return () => void this.sources.delete(source);
  }

  async get() {
    const values: MetricValue[] = [];
    for (const source of this.sources) {
      for (const s of source()) {
        const labels: LabelValues = {};
        this.labelNames.forEach((name, i) => (labels[name] = s.labels[i] ?? ''));
        values.push({ labels, value: s.value });
      }
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

export interface HistogramCell {
  /** Per-bucket (non-cumulative) counts; the last slot is above the largest bound. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/** A histogram with fixed upper bounds; observe with `observe(cell, value)`. */
export class HistogramFamily extends Family<HistogramCell> {
  readonly type = 'histogram' as const;

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly bounds: readonly number[],
  ) {
    super(name, help, labelNames);
  }

  protected create(): HistogramCell {
    return { counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
  }

  observe(cell: HistogramCell, value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    cell.counts[i]! += 1;
    cell.sum += value;
    cell.count += 1;
  }

  async get() {
    const values: MetricValue[] = [];
    const les = this.bounds.map(goFloat);
    for (const { labels, cell } of this.cells.values()) {
      let acc = 0;
      les.forEach((le, i) => {
        acc += cell.counts[i]!;
        values.push({ labels: { ...labels, le }, value: acc, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...labels, le: '+Inf' }, value: cell.count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: cell.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: cell.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

/**
 * A bucket bound as Go's Prometheus client writes it (strconv 'g', shortest): exponent form from
 * 1e6 up ("1.048576e+06") and below 1e-4, so `le` labels are the same strings Distribution's are.
 */
export function goFloat(n: number): string {
  const exp = n === 0 ? 0 : Math.floor(Math.log10(Math.abs(n)));
  if (exp < 21 && (exp >= 6 || exp < -4)) {
    const [mantissa, e] = n.toExponential().split('e') as [string, string];
    const sign = e.startsWith('-') ? '-' : '+';
    return `${mantissa}e${sign}${e.replace(/^[+-]/, '').padStart(2, '0')}`;
  }
  return String(n);
}
