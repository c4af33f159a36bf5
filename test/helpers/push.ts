/** Client-side push flows (as a registry client would run them), used by the tests as set-up. */
import assert from 'node:assert/strict';
import type { Registry } from './registry.js';
import type { Res } from './http.js';
import { blob, imageConfig, ociManifest, random, MT, type Blob, type Manifest } from './content.js';

/** Opens an upload session and returns its absolute Location URL. */
export async function startUpload(reg: Registry, repo: string): Promise<{ location: string; res: Res }> {
  const res = await reg.req('POST', `/v2/${repo}/blobs/uploads/`);
  assert.equal(res.status, 202, `POST upload: ${res.status} ${res.text()}`);
  const loc = res.header('location');
  assert.ok(loc, 'upload session has a Location');
  return { location: new URL(loc, reg.url).toString(), res };
}

/** Appends `digest=` (or other query params) to an upload location, keeping its own query. */
export function withQuery(location: string, params: Record<string, string>): string {
  const u = new URL(location);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

/** POST then PUT with fetch, for a registry known only by its URL (the library tests); resolves the digest. */
export async function pushBlobAt(url: string, repo: string, data: Uint8Array): Promise<string> {
  const b = blob(Buffer.from(data));
  const start = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  assert.equal(start.status, 202, `POST upload: ${start.status}`);
  const location = new URL(start.headers.get('location')!, url);
  location.searchParams.set('digest', b.digest);
  const put = await fetch(location, { method: 'PUT', body: new Uint8Array(data) });
  assert.equal(put.status, 201, `PUT blob: ${put.status} ${await put.text()}`);
  return b.digest;
}

/** POST then PUT, whole blob in the PUT. */
export async function pushBlob(reg: Registry, repo: string, data: Buffer, digestValue?: string): Promise<string> {
  const b = blob(data);
  const d = digestValue ?? b.digest;
  const { location } = await startUpload(reg, repo);
  const res = await reg.req('PUT', withQuery(location, { digest: d }), { body: data, headers: { 'Content-Type': 'application/octet-stream' } });
  assert.equal(res.status, 201, `PUT blob: ${res.status} ${res.text()}`);
  return d;
}

/** POST session, PATCH chunks with Content-Range, PUT to close (no body). */
export async function pushBlobChunked(reg: Registry, repo: string, data: Buffer, chunkSize: number, digestValue: string): Promise<string> {
  let { location } = await startUpload(reg, repo);
  for (let off = 0; off < data.length; off += chunkSize) {
    const chunk = data.subarray(off, Math.min(off + chunkSize, data.length));
    const res = await reg.req('PATCH', location, {
      body: chunk,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${off}-${off + chunk.length - 1}` },
    });
    assert.equal(res.status, 202, `PATCH chunk at ${off}: ${res.status} ${res.text()}`);
    location = new URL(res.header('location')!, reg.url).toString();
  }
  const res = await reg.req('PUT', withQuery(location, { digest: digestValue }));
  assert.equal(res.status, 201, `PUT close: ${res.status} ${res.text()}`);
  return digestValue;
}

export async function pushBlobs(reg: Registry, repo: string, blobs: Blob[]): Promise<void> {
  for (const b of blobs) await pushBlob(reg, repo, b.data, b.digest);
}

export async function putManifest(reg: Registry, repo: string, ref: string, m: Manifest, contentType = m.mediaType): Promise<Res> {
  return reg.req('PUT', `/v2/${repo}/manifests/${ref}`, { body: m.bytes, headers: { 'Content-Type': contentType } });
}

export async function pushManifest(reg: Registry, repo: string, ref: string, m: Manifest): Promise<Res> {
  const res = await putManifest(reg, repo, ref, m);
  assert.equal(res.status, 201, `PUT manifest ${repo}:${ref}: ${res.status} ${res.text()}`);
  return res;
}

export interface PushedImage { config: Blob; layers: Blob[]; manifest: Manifest }

/** Pushes a small OCI image (config + one or more layers + manifest) and tags it when `tag` is given. */
export async function pushImage(reg: Registry, repo: string, tag?: string, o: { layers?: number; layerSize?: number } = {}): Promise<PushedImage> {
  const config = imageConfig();
  const layers = Array.from({ length: o.layers ?? 1 }, () => blob(random(o.layerSize ?? 512)));
  await pushBlobs(reg, repo, [config, ...layers]);
  const m = ociManifest({ config: config.descriptor, layers: layers.map((l) => l.descriptor) });
  await pushManifest(reg, repo, tag ?? m.digest, m);
  return { config, layers, manifest: m };
}

export function errorCodes(res: Res): string[] {
  try {
    const body = res.json() as { errors?: { code: string }[] };
    return (body.errors ?? []).map((e) => e.code);
  } catch {
    return [];
  }
}

/** Asserts status and that the OCI error body carries `code` (one of several when an array). */
export function assertError(res: Res, status: number | number[], code: string | string[], what = ''): void {
  const statuses = Array.isArray(status) ? status : [status];
  assert.ok(statuses.includes(res.status), `${what} status ${res.status} not in [${statuses}]; body ${res.text().slice(0, 300)}`);
  const codes = Array.isArray(code) ? code : [code];
  const got = errorCodes(res);
  assert.ok(got.some((c) => codes.includes(c)), `${what} error codes [${got}] do not include one of [${codes}]; body ${res.text().slice(0, 300)}`);
  assertErrorShape(res);
}

/** The spec's error envelope: {"errors":[{"code","message","detail"?}]}, JSON content type. */
export function assertErrorShape(res: Res): void {
  const body = res.json() as { errors: unknown };
  assert.ok(Array.isArray(body.errors) && body.errors.length > 0, 'errors is a non-empty array');
  for (const e of body.errors as Record<string, unknown>[]) {
    assert.match(String(e.code), /^[A-Z_]+$/, 'code is upper-case with underscores');
    if ('message' in e) assert.equal(typeof e.message, 'string');
  }
  assert.match(res.header('content-type') ?? '', /json/, 'error body is JSON');
}

export { MT };

/** Every manifest type the suite uses, so GET-by-tag never triggers a legacy schema1 rewrite. */
export const ACCEPT_ALL = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

export async function getManifest(reg: Registry, repo: string, ref: string, method: 'GET' | 'HEAD' = 'GET', accept = ACCEPT_ALL): Promise<Res> {
  return reg.req(method, `/v2/${repo}/manifests/${ref}`, { headers: { Accept: accept } });
}
