import type { Clock } from '../../src/clock.js';

/**
 * A clock that stands still until the test moves it. advance() moves it and then runs each timer
 * that fell due once, as a process that slept through several periods of a setInterval sees it
 * run once on waking (so a job that reads the time reads the new one).
 */
export class ManualClock implements Clock {
  private readonly timers = new Set<{ next: number; ms: number; fn: () => void }>();

  constructor(private time = Date.now()) {}

  now(): number {
    return this.time;
  }

  every(ms: number, fn: () => void): () => void {
    const timer = { next: this.time + ms, ms, fn };
    this.timers.add(timer);
    return () => void this.timers.delete(timer);
  }

  advance(ms: number): void {
    this.time += ms;
    for (const t of [...this.timers]) {
      if (t.next > this.time || !this.timers.has(t)) continue;
      t.next = this.time + t.ms;
      t.fn();
    }
  }

  /** Timers currently set (a stopped part leaves none). */
  get pending(): number {
    return this.timers.size;
  }
}
