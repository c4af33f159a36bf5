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
