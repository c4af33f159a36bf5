/**
 * The soak's clients: `clients` loops, each owning one repository (so what it expects there is
 * exact), for `durationMs`, mixing blob pushes (monolithic, in one POST, chunked, mounted from
 * another client's repository), manifest pushes that create and overwrite tags, pulls checked
 * against their digests, tag lists checked against what the client pushed, and tag deletes.
 * Requests go round-robin over `urls` (several instances behind one name). At the end every tag
 * a client was last told was pushed is pulled whole, and every deleted one must be gone.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { percentile } from './bounded.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface Blob { digest: string; data: Buffer }
interface Image { manifest: Buffer; digest: string; blobs: Blob[] }

export interface SoakResult {
  requests: number;
  /** 5xx answers and failed connections. */
  serverErrors: number;
  /** What a client found wrong: a pull that did not match, a tag list that missed or kept a tag, an unexpected 4xx. */
  wrong: string[];
  latencies: number[];
  /** The five slowest requests: ms, method, path with the repository and digests left out. */
  slowest: Array<[number, string]>;
  pushes: number;
  verified: number;
}

export async function runSoak(o: { urls: string[]; clients: number; durationMs: number; onLoadEnd?: () => void }): Promise<SoakResult> {
  const result: SoakResult = { requests: 0, serverErrors: 0, wrong: [], latencies: [], slowest: [], pushes: 0, verified: 0 };
  const prefix = `soak-${randomBytes(3).toString('hex')}`;
  const known: Array<{ repo: string; blob: Blob }> = [];
  let turn = 0;

  async function call(method: string, path: string, body?: Buffer, headers: Record<string, string> = {}, base?: string): Promise<{ status: number; headers: Headers; body: Buffer }> {
    const url = path.startsWith('http') ? path : `${base ?? o.urls[turn++ % o.urls.length]}${path}`;
    const t0 = performance.now();
    result.requests++;
    try {
      const res = await fetch(url, { method, headers, ...(body ? { body: new Uint8Array(body) } : {}), redirect: 'manual', signal: AbortSignal.timeout(60_000) });
      const data = Buffer.from(await res.arrayBuffer());
      const ms = performance.now() - t0;
      result.latencies.push(ms);
      if (result.slowest.length < 5 || ms > result.slowest[4]![0]) {
        result.slowest.push([ms, `${method} ${path.replace(/^https?:\/\/[^/]+/, '').replace(/soak-\w+\/c\d+/, 'REPO').replace(/sha256:\w+/g, 'D').replace(/\?.*/, '?…')} ${res.status}`]);
        result.slowest.sort((a, b) => b[0] - a[0]).splice(5);
      }
      if (res.status >= 500) {
        result.serverErrors++;
        if (result.serverErrors <= 5) result.wrong.push(`${res.status} ${method} ${path}: ${data.toString().slice(0, 200)}`);
      }
      return { status: res.status, headers: res.headers, body: data };
    } catch (err) {
      result.serverErrors++;
      if (result.serverErrors <= 5) result.wrong.push(`${method} ${path}: ${(err as Error).message}`);
      return { status: 0, headers: new Headers(), body: Buffer.alloc(0) };
    }
  }
  const expect = (ok: boolean, what: string) => {
    if (!ok) result.wrong.push(what);
    return ok;
  };
  /** A Location to send to another instance: its path and query. */
  const rel = (loc: string) => {
    const u = new URL(loc, 'http://x');
    return u.pathname + u.search;
  };

  async function pushBlob(repo: string, b: Blob): Promise<boolean> {
    const kind = Math.random();
    if (kind < 0.15 && known.length > 0) {
      const from = known[Math.floor(Math.random() * known.length)]!;
      const m = await call('POST', `/v2/${repo}/blobs/uploads/?mount=${from.blob.digest}&from=${from.repo}`);
      if (m.status === 201) {
        b.digest = from.blob.digest;
        b.data = from.blob.data;
        return true;
      }
      if (m.status !== 202) return expect(false, `mount: ${m.status}`);
      return finish(repo, b, m.headers.get('location')!);
    }
    if (kind < 0.4) {
      const r = await call('POST', `/v2/${repo}/blobs/uploads/?digest=${b.digest}`, b.data, { 'Content-Type': 'application/octet-stream' });
      return expect(r.status === 201, `POST ?digest=: ${r.status}`);
    }
    const start = await call('POST', `/v2/${repo}/blobs/uploads/`);
    if (!expect(start.status === 202, `POST upload: ${start.status}`)) return false;
    return finish(repo, b, start.headers.get('location')!, kind < 0.7);
  }

  async function finish(repo: string, b: Blob, location: string, chunked = false): Promise<boolean> {
    let loc = rel(location);
    let from = 0;
    if (chunked && b.data.length > 1) {
      const cut = Math.floor(b.data.length / 2);
      const p = await call('PATCH', loc, b.data.subarray(0, cut), { 'Content-Type': 'application/octet-stream', 'Content-Range': `0-${cut - 1}` });
      if (!expect(p.status === 202, `PATCH: ${p.status}`)) return false;
      loc = rel(p.headers.get('location')!);
      from = cut;
    }
    const sep = loc.includes('?') ? '&' : '?';
    const put = await call('PUT', `${loc}${sep}digest=${b.digest}`, b.data.subarray(from), { 'Content-Type': 'application/octet-stream', ...(from ? { 'Content-Range': `${from}-${b.data.length - 1}` } : {}) });
    return expect(put.status === 201, `PUT blob: ${put.status} ${put.body.toString().slice(0, 200)}`);
  }

  async function pull(repo: string, tag: string, image: Image): Promise<boolean> {
    const m = await call('GET', `/v2/${repo}/manifests/${tag}`, undefined, { Accept: OCI_MANIFEST });
    if (!expect(m.status === 200 && sha(m.body) === image.digest, `pull ${repo}:${tag}: ${m.status}, ${m.status === 200 ? 'another manifest' : m.body.toString().slice(0, 200)}`)) return false;
    for (const b of image.blobs) {
      const r = await call('GET', `/v2/${repo}/blobs/${b.digest}`);
      let data = r.body;
      if (r.status === 307) data = (await call('GET', r.headers.get('location')!)).body;
      else if (!expect(r.status === 200, `blob ${b.digest} of ${repo}:${tag}: ${r.status}`)) return false;
      if (!expect(sha(data) === b.digest, `blob ${b.digest} of ${repo}:${tag} is not whole`)) return false;
    }
    return true;
  }

  async function client(n: number): Promise<Map<string, Image | null>> {
    const repo = `${prefix}/c${n}`;
    const tags = new Map<string, Image | null>(); // null: deleted
    const deadline = Date.now() + o.durationMs;
    while (Date.now() < deadline) {
      const live = [...tags].filter(([, v]) => v !== null) as Array<[string, Image]>;
      const r = Math.random();
      if (r < 0.4 || live.length === 0) {
        const blobs: Blob[] = [{ data: Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', n, t: Date.now(), r: Math.random() })), digest: '' }];
        for (let i = 0; i < 1 + Math.floor(Math.random() * 2); i++) blobs.push({ data: randomBytes(1024 + Math.floor(Math.random() * 31 * 1024)), digest: '' });
        for (const b of blobs) b.digest = sha(b.data);
        let ok = true;
        for (const b of blobs) ok = ok && (await pushBlob(repo, b));
        if (!ok) continue;
        const doc = {
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: blobs[0]!.digest, size: blobs[0]!.data.length },
          layers: blobs.slice(1).map((b) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: b.digest, size: b.data.length })),
        };
        const manifest = Buffer.from(JSON.stringify(doc));
        const tag = `t${Math.floor(Math.random() * 3)}`;
        const put = await call('PUT', `/v2/${repo}/manifests/${tag}`, manifest, { 'Content-Type': OCI_MANIFEST });
        if (!expect(put.status === 201, `PUT manifest: ${put.status} ${put.body.toString().slice(0, 200)}`)) continue;
        tags.set(tag, { manifest, digest: sha(manifest), blobs });
        result.pushes++;
        known.push({ repo, blob: blobs[1]! });
        if (known.length > 500) known.splice(0, 100);
      } else if (r < 0.75) {
        const [tag, image] = live[Math.floor(Math.random() * live.length)]!;
        await pull(repo, tag, image);
      } else if (r < 0.9) {
        const list = await call('GET', `/v2/${repo}/tags/list`);
        const got = list.status === 200 ? ((JSON.parse(list.body.toString()).tags ?? []) as string[]).sort().join(',') : `status ${list.status}`;
        const want = live.map(([t]) => t).sort().join(',');
        expect(got === want, `tags of ${repo}: ${got}, expected ${want}`);
      } else {
        const [tag] = live[Math.floor(Math.random() * live.length)]!;
        const d = await call('DELETE', `/v2/${repo}/manifests/${tag}`);
        if (expect(d.status === 202, `DELETE ${repo}:${tag}: ${d.status}`)) tags.set(tag, null);
      }
    }
    return tags;
  }

  const states = await Promise.all(Array.from({ length: o.clients }, (_, n) => client(n)));
  o.onLoadEnd?.();
  // Everything acknowledged pulls whole; everything deleted is gone.
  for (const [n, tags] of states.entries()) {
    const repo = `${prefix}/c${n}`;
    for (const [tag, image] of tags) {
      if (image) {
        if (await pull(repo, tag, image)) result.verified++;
      } else {
        const g = await call('GET', `/v2/${repo}/manifests/${tag}`, undefined, { Accept: OCI_MANIFEST });
        expect(g.status === 404, `deleted ${repo}:${tag} answers ${g.status}`);
      }
    }
  }
  return result;
}

/** Resident memory of a process and all its descendants (a primary and its workers), in bytes. */
export function treeRss(pid: number): number {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // gone meanwhile
    }
  }
  let total = 0;
  const visit = (p: number) => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      total += m ? Number(m[1]) * 1024 : 0;
    } catch {
      return;
    }
    for (const c of children.get(p) ?? []) visit(c);
  };
  visit(pid);
  return total;
}

export function summary(what: string, r: SoakResult, rss10: number, rssEnd: number): string[] {
  const mib = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MiB`;
  return [
    `soak ${what}: ${r.requests} requests, ${r.serverErrors} server errors, ${r.wrong.length} wrong answers, ${r.pushes} pushes acknowledged, ${r.verified} tags pulled whole at the end`,
    `soak ${what}: slowest ${r.slowest.map(([ms, req]) => `${ms.toFixed(0)} ms ${req}`).join('; ')}`,
    `soak ${what}: latency p50 ${percentile(r.latencies, 50).toFixed(1)} ms, p99 ${percentile(r.latencies, 99).toFixed(1)} ms`,
    `soak ${what}: RSS after 10 s ${mib(rss10)}, at the end ${mib(rssEnd)} (${(((rssEnd - rss10) / rss10) * 100).toFixed(1)}%)`,
  ];
}
