import type { Logger } from 'pino';
import type { Check } from './checks.js';

interface Registered {
  name: string;
  check: Check;
  intervalMs: number;
  threshold: number;
  failures: number;
  /** The reason shown in /debug/health while the check is red. */
  error: string | undefined;
  running: boolean;
  timer?: NodeJS.Timeout;
}

/** The name under which POST /debug/health/down marks the node unhealthy (Distribution's). */
export const MANUAL_CHECK = 'manual_http_status';

/**
 * Periodic health checks with Distribution's semantics: a check turns red after `threshold`
 * consecutive failures (at once when threshold is 0 or 1) and green after one success. Berth runs
 * each check once at start, then every interval; a check still running when its next turn comes
 * is not started twice. `healthy` is a plain field, cheap to read on every request.
 */
export class HealthChecks {
  private readonly checks: Registered[] = [];
  private manualDown: string | undefined;
  private stopped = false;
  /** False while any check is red. */
  healthy = true;

  constructor(private readonly log: Logger) {}

  register(name: string, check: Check, intervalMs: number, threshold = 0): void {
    const entry: Registered = { name, check, intervalMs, threshold, failures: 0, error: undefined, running: false };
    this.checks.push(entry);
    void this.run(entry);
    entry.timer = setInterval(() => void this.run(entry), intervalMs);
    entry.timer.unref();
  }

  private async run(entry: Registered): Promise<void> {
    if (entry.running || this.stopped) return;
    entry.running = true;
    try {
      await entry.check();
      if (entry.error !== undefined) this.log.info({ check: entry.name }, 'health check passing again');
      entry.failures = 0;
      entry.error = undefined;
    } catch (err) {
      entry.failures++;
      const reason = err instanceof Error ? err.message : String(err);
      if (entry.failures >= Math.max(entry.threshold, 1)) {
        if (entry.error === undefined) this.log.warn({ check: entry.name, reason, failures: entry.failures }, 'health check failing');
        entry.error = reason;
      }
    } finally {
      entry.running = false;
      this.update();
    }
  }

  /** Runs every check now (used by tests and on demand); resolves when all have finished. */
  async runAll(): Promise<void> {
    await Promise.all(this.checks.map((c) => this.run(c)));
  }

  /** Marks the node unhealthy by hand until up() (Distribution's /debug/health/down). */
  down(reason = 'manual Check'): void {
    this.manualDown = reason;
    this.update();
  }

  up(): void {
    this.manualDown = undefined;
    this.update();
  }

  private update(): void {
    this.healthy = this.manualDown === undefined && this.checks.every((c) => c.error === undefined);
  }

  /** Failing checks by name → reason; empty when healthy. */
  status(): Record<string, string> {
    const out: Record<string, string> = {};
    if (this.manualDown !== undefined) out[MANUAL_CHECK] = this.manualDown;
    for (const c of this.checks) if (c.error !== undefined) out[c.name] = c.error;
    return out;
  }

  stop(): void {
    this.stopped = true;
    for (const c of this.checks) clearInterval(c.timer);
  }
}
