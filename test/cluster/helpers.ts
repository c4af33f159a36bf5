import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { request } from '../helpers/http.js';
import { startChildRegistry, type Registry, type RegistryOptions } from '../helpers/registry.js';
import { until as untilWithin } from '../helpers/wait.js';

/** A JSON log line of `berth serve` with workers: `worker` on the workers' lines, `slot`/`workerPid` on the primary's. */
export interface LogLine { msg: string; worker?: number; slot?: number; workerPid?: number; url?: string }

export function logLines(registry: Registry): LogLine[] {
  return registry.output!().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
}

/** Waits until `ok` holds; a safety net of 60 s, not a timing. */
export const until = (what: string, ok: () => boolean | Promise<boolean>) => untilWithin(60_000, what, ok);

/**
 * The workers whose access-log lines match `served`, once `count` of them have shown up (a
 * worker's line reaches the test through its output a moment after the answer), or as they stand
 * after the safety net of `until`, for the caller to assert on.
 */
export async function workersThatServed(registry: Registry, served: (l: LogLine) => boolean, count: number): Promise<Set<number | undefined>> {
  const now = () => new Set(logLines(registry).filter((l) => l.msg === 'request' && served(l)).map((l) => l.worker));
  await until(`access-log lines from ${count} workers`, () => now().size >= count).catch(() => undefined);
  return now();
}

/**
 * A configuration for startWorkers: JSON logs at info (what logLines reads), a filesystem root
 * and the address the test harness fills in, then `rest` (further top-level sections).
 */
export function workersYaml(rest: string[]): string {
  const head = ['version: 0.1', 'log:', '  level: info', '  formatter: json', 'storage:', '  filesystem:', '    rootdirectory: {{root}}', 'http:', '  addr: {{addr}}'];
  return [...head, ...rest, ''].join('\n');
}

/** `berth serve` with `workers` workers (the YAML must log JSON at info), once every worker is ready. */
export async function startWorkers(workers: number, opts: RegistryOptions): Promise<Registry> {
  const registry = await startChildRegistry({ ...opts, env: { ...opts.env, REGISTRY_BERTH_WORKERS: String(workers) } });
  // The first worker answers before the others are ready; the primary logs when all are.
  await until(`${workers} workers ready`, () => logLines(registry).some((l) => l.msg.startsWith('listening on')));
  return registry;
}

/**
 * An agent with one kept-alive connection that worker `slot` serves. Connections are handed to the
 * worker with the fewest open, so the agents that reached another worker stay open until one
 * reaches `slot`: the next connection then goes elsewhere whenever the closes of earlier ones
 * are counted. Requests sent with the agent returned all reach that worker.
 */
export async function pinnedTo(registry: Registry, slot: number): Promise<http.Agent> {
  const others: http.Agent[] = [];
  try {
    for (let attempt = 0; attempt < 8; attempt++) {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const marker = randomUUID();
      await request(registry.url, 'GET', `/v2/?pin=${marker}`, { agent });
      const served = await workersThatServed(registry, (l) => l.url?.includes(marker) === true, 1);
      if (served.has(slot)) return agent;
      others.push(agent);
    }
  } finally {
    for (const agent of others) agent.destroy();
  }
  throw new Error(`no connection reached worker ${slot}`);
}
