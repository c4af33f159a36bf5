/**
 * Progress of blob transfers, three ways. On a terminal (stderr is a TTY): live bars drawn by
 * cli-progress, one per blob in flight (short digest and kind, bytes done of total, rate, ETA)
 * and a total line; a finished, skipped or mounted blob leaves its bar and is logged above the
 * bars. Not on a terminal (pipes, CI): one line per finished blob on stderr. Quiet: nothing.
 * Bars are redrawn from counters at most ten times a second, so the per-chunk cost of a
 * transfer is one addition.
 */
import cliProgress from 'cli-progress';
import type { CopyHooks } from '../../client/copy/graph.js';
import type { Descriptor } from '../../oci/descriptor.js';
import { humanSize, kindOf, shortDigest } from './output.js';

export type ProgressMode = 'bars' | 'lines' | 'quiet';

export function progressMode(quiet: boolean | undefined, stream: NodeJS.WriteStream = process.stderr): ProgressMode {
  if (quiet) return 'quiet';
  return stream.isTTY && process.env.TERM !== 'dumb' ? 'bars' : 'lines';
}

interface Item {
  label: string;
  total: number;
  bytes: number;
  started: number;
  bar?: cliProgress.SingleBar;
}

/** Width of the name column. */
const LABEL = 26;

const rate = (bytes: number, ms: number) => (ms > 0 ? `${humanSize((bytes * 1000) / ms)}/s` : '');

export class TransferView {
  private readonly items = new Map<string, Item>();
  private multi?: cliProgress.MultiBar;
  private totalBar?: cliProgress.SingleBar;
  private timer?: NodeJS.Timeout;
  private readonly started = Date.now();
  /** Bytes of every item seen so far (the total line's denominator grows as the walk finds more). */
  private known = 0;
  private moved = 0;
  private counts = { copied: 0, skipped: 0, mounted: 0 };
  private stopped = false;

  constructor(readonly mode: ProgressMode, private readonly stream: NodeJS.WriteStream = process.stderr) {
    if (mode !== 'bars') return;
    this.multi = new cliProgress.MultiBar({
      stream,
      format: '{label} |{bar}| {done} / {all}  {rate}  {left}',
      barsize: Math.max(10, Math.min(30, (stream.columns ?? 80) - LABEL - 49)),
      linewrap: false,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      autopadding: true,
      fps: 10,
      emptyOnZero: true,
      forceRedraw: false,
      // Ctrl-C is the command's to handle (it aborts the transfer, then stop() restores the cursor).
      gracefulExit: false,
    }, cliProgress.Presets.shades_classic);
    this.totalBar = this.multi.create(1, 0, this.payload('total', 0, 0, 0));
    this.timer = setInterval(() => this.redraw(), 100);
  }

  private payload(label: string, bytes: number, total: number, since: number): Record<string, string> {
    const elapsed = Date.now() - since;
    const left = bytes > 0 && total > bytes ? ((total - bytes) * elapsed) / bytes / 1000 : 0;
    return {
      label: label.length > LABEL ? `${label.slice(0, LABEL - 1)}…` : label.padEnd(LABEL),
      done: humanSize(bytes).padStart(9),
      all: humanSize(total).padEnd(9),
      rate: rate(bytes, elapsed).padStart(11),
      left: left > 0 ? `ETA ${left < 60 ? `${Math.ceil(left)}s` : `${Math.floor(left / 60)}m${String(Math.ceil(left % 60)).padStart(2, '0')}s`}` : '',
    };
  }

  private redraw(): void {
    for (const it of this.items.values()) it.bar?.update(Math.min(it.bytes, it.total), this.payload(it.label, it.bytes, it.total, it.started));
    const c = this.counts;
    const done = c.copied + c.skipped + c.mounted;
    // Everything found was there already: nothing to move, and the total is complete.
    const complete = this.known === 0 && done > 0 && this.items.size === 0;
    this.totalBar?.setTotal(Math.max(1, this.known));
    this.totalBar?.update(complete ? 1 : Math.min(this.moved, this.known), this.payload(`total, ${done} done`, this.moved, this.known, this.started));
  }

  /** A transfer of `total` bytes begins. */
  start(id: string, label: string, total: number): void {
    const it: Item = { label, total, bytes: 0, started: Date.now() };
    this.known += total;
    if (this.multi) it.bar = this.multi.create(Math.max(1, total), 0, this.payload(label, 0, total, it.started));
    this.items.set(id, it);
  }

  /** `bytes` of the transfer so far (a transfer started again after a failure may go back). */
  update(id: string, bytes: number): void {
    const it = this.items.get(id);
    if (!it) return;
    this.moved += bytes - it.bytes;
    it.bytes = bytes;
  }

  /** A line about a finished item, above the bars or on its own line. */
  private log(line: string): void {
    if (this.mode === 'quiet') return;
    if (this.multi) this.multi.log(`${line}\n`);
    else this.stream.write(`${line}\n`);
  }

  finish(id: string, how: 'copied' | 'skipped' | 'mounted', label: string, size: number, note = ''): void {
    const it = this.items.get(id);
    this.items.delete(id);
    this.counts[how]++;
    // A mounted blob moved no bytes: it leaves the total; a copied one counts whole.
    if (it && how === 'copied') this.moved += it.total - it.bytes;
    if (it && how !== 'copied') {
      this.known -= it.total;
      this.moved -= it.bytes;
    }
    this.log(`${how.padEnd(8)}${label}  ${humanSize(size)}${note ? `  ${note}` : ''}`);
    // Removing the bar redraws, which writes the line above the bars.
    if (it?.bar) this.multi?.remove(it.bar);
  }

  /** Hooks for copy(): a bar per blob, lines for skipped and mounted ones. */
  copyHooks(): CopyHooks {
    const label = (d: Descriptor) => `${shortDigest(d.digest.value)} ${kindOf(d.mediaType)}`;
    return {
      onStart: (d) => this.start(d.digest.value, label(d), d.size),
      onProgress: (p) => this.update(p.descriptor.digest.value, p.bytes),
      onCopied: (d) => this.finish(d.digest.value, 'copied', label(d), d.size),
      onSkipped: (d) => this.finish(d.digest.value, 'skipped', label(d), d.size, 'exists'),
      onMounted: (d, from) => this.finish(d.digest.value, 'mounted', label(d), d.size, `from ${from}`),
    };
  }

  /** Stops drawing (the bars stay on screen as last drawn). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.multi) {
      this.redraw();
      this.multi.update(); // writes lines logged since the last redraw
      this.multi.stop();
    }
  }

  summary(): { copied: number; skipped: number; mounted: number; seconds: number } {
    return { ...this.counts, seconds: (Date.now() - this.started) / 1000 };
  }
}
