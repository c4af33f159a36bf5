/**
 * Shared by the security suite: Berth as a real `berth serve` child process (so that anything
 * that would end the process shows as an exit, as it would in production), with the log on at a
 * chosen level, and raw-socket ways of sending the bodies an attacker sends.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { startChildRegistry, type Registry } from '../helpers/registry.js';

export type Level = 'info' | 'debug';

export interface ChildOptions {
  level?: Level;
  formatter?: 'text' | 'json';
  /** Extra top-level YAML (auth, berth, notifications, http additions go in `http`). */
  extra?: string;
  /** Extra lines under `http:` (indented by two spaces). */
  http?: string[];
}

/** A child registry on a fresh filesystem root with the access log on at `level`. */
export function startLogged(o: ChildOptions = {}): Promise<Registry> {
  const yaml = [
    'version: 0.1',
    'log:',
    `  level: ${o.level ?? 'info'}`,
    `  formatter: ${o.formatter ?? 'text'}`,
    'storage:',
    '  filesystem:',
    '    rootdirectory: {{root}}',
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    '  addr: {{addr}}',
    '  secret: security-suite-secret',
    ...(o.http ?? []).map((l) => `  ${l}`),
    o.extra ?? '',
    '',
  ].join('\n');
  return startChildRegistry({ yaml });
}

/**
 * The process is alive, answers /v2/ (200, or `status` when these headers do not authenticate),
 * and its log holds no line about an escaped or uncaught error.
 */
export async function assertStillServing(reg: Registry, headers: Record<string, string> = {}, status = 200): Promise<void> {
  const res = await reg.req('GET', '/v2/', { headers });
  assert.equal(res.status, status, 'GET /v2/ after the abuse');
  assert.equal(reg.exitCode?.(), undefined, `the registry exited:\n${reg.output?.().slice(-3000)}`);
  assertCleanLog(reg);
}

/**
 * No error escaped a request or went uncaught (the guard would have logged it), and no request
 * was answered with a 5xx, received by the client or not (the access log says what was sent).
 */
export function assertCleanLog(reg: Registry): void {
  const log = reg.output?.() ?? '';
  for (const marker of ['escaped the request handler', 'uncaught exception', 'unhandled promise rejection', 'access log failed', 'TypeError', 'request failed']) {
    assert.ok(!log.includes(marker), `the log mentions "${marker}":\n${log.slice(-3000)}`);
  }
  const fivexx = log.split('\n').filter((l) => /msg=request .*status=5\d\d|"status":5\d\d,.*"msg":"request"/.test(l));
  assert.deepEqual(fivexx, [], 'requests answered with a server error');
}

/** Waits (the child flushes its log 200 ms after a line) until its stderr matches, or fails. */
export async function waitForLog(reg: Registry, re: RegExp, ms = 5000): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const m = re.exec(reg.output?.() ?? '');
    if (m) return m[0];
    if (Date.now() > deadline) assert.fail(`no log line matching ${re} within ${ms} ms:\n${reg.output?.().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Outcome {
  /** The status, or 0 when the connection ended before a status line. */
  status: number;
  body: string;
}

/**
 * Sends a body with Transfer-Encoding: chunked, `size` bytes in 64 KiB pieces, and reads the
 * answer (the server may answer early and close; writes after that are ignored).
 */
export function sendChunked(reg: Registry, method: string, path: string, size: number, headers: Record<string, string> = {}): Promise<Outcome> {
  const u = new URL(reg.url);
  return new Promise((resolve) => {
    let answered = false;
    const req = http.request({ host: u.hostname, port: Number(u.port), method, path, agent: false, headers: { ...headers, 'Transfer-Encoding': 'chunked' } }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', () => undefined);
      res.on('close', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    // A write cut off after the answer arrived (the server need not read a body it refuses) is not a failure.
    req.on('error', () => {
      if (!answered) resolve({ status: 0, body: '' });
    });
    const piece = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        const n = Math.min(piece.length, size - sent);
        sent += n;
        if (req.destroyed) return;
        if (!req.write(piece.subarray(0, n))) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

/**
 * Writes the request head and `sent` bytes of a body declared as `declared` bytes, then either
 * leaves the connection open for `holdMs` before closing it ('half'), or resets it at once
 * ('abort'). Resolves with whatever the server answered meanwhile (status 0 for nothing).
 */
export function sendPartial(reg: Registry, method: string, path: string, o: { declared: number; sent: number; mode: 'half' | 'abort'; holdMs?: number; headers?: Record<string, string> }): Promise<Outcome> {
  const u = new URL(reg.url);
  return new Promise((resolve) => {
    const sock = net.connect(Number(u.port), u.hostname);
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : 0, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
    const head = [`${method} ${path} HTTP/1.1`, `Host: ${u.host}`, `Content-Length: ${o.declared}`, ...Object.entries(o.headers ?? {}).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
    sock.write(head);
    sock.write(Buffer.alloc(o.sent, 0x7b));
    if (o.mode === 'abort') setTimeout(() => sock.resetAndDestroy(), 50);
    else setTimeout(() => sock.end(), o.holdMs ?? 300);
  });
}
