/**
 * Time as the parts that expire things see it: the mirror's token cache and content expiry, and
 * the renewal of background-job locks. Production uses the system clock; a test hands in a clock
 * it moves by hand, so that "a token an hour old" or "content past its ttl" happens when the test
 * says so rather than when a loaded machine gets there.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` every `ms` milliseconds until the returned function is called; never keeps the process alive. */
  every(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  every(ms, fn) {
    const timer = setInterval(fn, ms);
    timer.unref();
    return () => clearInterval(timer);
  },
};
