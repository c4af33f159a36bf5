/**
 * The buffer pools (upload blocks, download buffers) let their buffers go once idle. V8 frees an
 * ArrayBuffer's memory only when a full collection finds it dead, and it starts one for such
 * memory only once 64 MiB more of it exist than after the last: a pool's 32 MiB let go stayed
 * resident until then, under whatever the process did next (docs/performance.md, "Peak RSS over
 * the bench"). When node runs with --expose-gc, as bin/berth starts it, this asks for that
 * collection at once, run beside the program (V8's concurrent marking) rather than as a pause.
 */
type Gc = (options: { type: 'major'; execution: 'async' }) => void;

export function reclaimLetGo(): void {
  (globalThis as { gc?: Gc }).gc?.({ type: 'major', execution: 'async' });
}

/** One step of letting a pool go: `run` once the pool has been unused for `afterMs`. */
export interface IdleStep {
  afterMs: number;
  run(): void;
}

/**
 * When a buffer pool lets its buffers go: each step runs once nothing has used the pool for its
 * `afterMs` (counted from the last use's end, the steps in order), and a use starting in between
 * cancels the steps still to come. The timers do not keep the process alive.
 */
export class IdleRelease {
  private users = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly steps: readonly IdleStep[]) {}

  /** A use starts: nothing is let go while it runs. */
  enter(): void {
    this.users++;
    this.cancel();
  }

  /** A use ends: with none left, the steps start over. */
  leave(): void {
    if (--this.users > 0) return;
    this.cancel();
    this.schedule(0, 0);
  }

  /** The pool was used in passing (no use in progress to count): the steps start over. */
  touch(): void {
    this.enter();
    this.leave();
  }

  private cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(index: number, elapsedMs: number): void {
    const step = this.steps[index];
    if (!step) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      step.run();
      this.schedule(index + 1, step.afterMs);
    }, step.afterMs - elapsedMs);
    this.timer.unref();
  }
}
