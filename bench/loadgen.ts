/**
 * Load generators: wrk for GET (threads × connections, latency distribution) and ApacheBench
 * (`ab -k -i`) for HEAD, which wrk cannot measure (it waits for a body). Both are parsed into the
 * same shape; their errors are non-2xx replies plus socket errors.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface LoadResult {
  requests: number;
  rps: number;
  p99Ms: number;
  p50Ms: number;
  errors: number;
  notes: string[];
  raw: string;
}

export interface LoadOptions {
  url: string;
  seconds: number;
  connections: number;
  threads: number;
  headers?: Record<string, string>;
  /** CPU list for taskset -c, or undefined. */
  pin: string | undefined;
}

function run(cmd: string, args: string[], pin: string | undefined, timeoutMs: number): Promise<string> {
  const [file, argv] = pin ? ['taskset', ['-c', pin, cmd, ...args]] : [cmd, args];
  return new Promise((resolve, reject) => {
    execFile(file, argv, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} failed: ${err.message}\n${stderr}`));
      else resolve(stdout + stderr);
    });
  });
}

function toMs(value: string, unit: string): number {
  const v = Number(value);
  switch (unit) {
    case 'us':
      return v / 1000;
    case 'ms':
      return v;
    case 's':
      return v * 1000;
    case 'm':
      return v * 60_000;
    default:
      throw new Error(`unknown latency unit ${unit}`);
  }
}

export function hasTool(path: string): boolean {
  return existsSync(path);
}

export async function wrk(o: LoadOptions): Promise<LoadResult> {
  const args = [`-t${o.threads}`, `-c${o.connections}`, `-d${o.seconds}s`, '--latency', '--timeout', '10s'];
  for (const [k, v] of Object.entries(o.headers ?? {})) args.push('-H', `${k}: ${v}`);
  args.push(o.url);
  const out = await run('wrk', args, o.pin, (o.seconds + 30) * 1000);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const total = /(\d+) requests in/.exec(out);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(out);
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(out);
  if (!rps || !total || !p99 || !p50) throw new Error(`cannot parse wrk output:\n${out}`);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const sockErrors = sock ? sock.slice(1).reduce((n, s) => n + Number(s), 0) : 0;
  return {
    requests: Number(total[1]),
    rps: Number(rps[1]),
    p99Ms: toMs(p99[1]!, p99[2]!),
    p50Ms: toMs(p50[1]!, p50[2]!),
    errors: (non2xx ? Number(non2xx[1]) : 0) + sockErrors,
    notes: [],
    raw: out,
  };
}

/** `ab -k -i`: keep-alive HEAD requests for a fixed time. */
export async function abHead(o: LoadOptions): Promise<LoadResult> {
  // -t implies -n 50000, so -n comes after it to let the time limit decide.
  const args = ['-k', '-i', '-q', '-r', '-c', String(o.connections), '-t', String(o.seconds), '-n', '100000000', '-s', '10'];
  for (const [k, v] of Object.entries(o.headers ?? {})) args.push('-H', `${k}: ${v}`);
  args.push(o.url);
  const out = await run('ab', args, o.pin, (o.seconds + 30) * 1000);
  const rps = /Requests per second:\s+([\d.]+)/.exec(out);
  const complete = /Complete requests:\s+(\d+)/.exec(out);
  const failed = /Failed requests:\s+(\d+)/.exec(out);
  const p99 = /^\s+99%\s+(\d+)/m.exec(out);
  const p50 = /^\s+50%\s+(\d+)/m.exec(out);
  if (!rps || !complete || !failed || !p99 || !p50) throw new Error(`cannot parse ab output:\n${out}`);
  const non2xx = /Non-2xx responses:\s+(\d+)/.exec(out);
  const keepAlive = /Keep-Alive requests:\s+(\d+)/.exec(out);
  const requests = Number(complete[1]);
  // A server that drops keep-alive makes ab reconnect per request: worth knowing when reading the figure.
  const kaRequests = keepAlive ? Number(keepAlive[1]) : 0;
  const notes = kaRequests < requests * 0.9 ? [`only ${kaRequests} of ${requests} requests kept the connection alive`] : [];
  return {
    requests,
    rps: Number(rps[1]),
    p99Ms: Number(p99[1]),
    p50Ms: Number(p50[1]),
    errors: Number(failed[1]) + (non2xx ? Number(non2xx[1]) : 0),
    notes,
    raw: out,
  };
}
