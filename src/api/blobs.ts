import { pipeline } from 'node:stream/promises';
import { sendFile } from './send-file.js';
import { RegistryError } from '../oci/errors.js';
import { parseDigest } from '../oci/digest.js';
import type { Repository } from '../storage/repository.js';
import { type Context, sendEmpty } from './context.js';
import { requireDeleteEnabled, requireWritable } from './guards.js';

/** GET/HEAD/DELETE /v2/<name>/blobs/<digest> */
export async function handleBlob(ctx: Context, repo: Repository, reference: string): Promise<void> {
  const digest = parseDigest(reference);
  if (ctx.method === 'DELETE') {
    requireWritable(ctx);
    requireDeleteEnabled(ctx);
    if (!(await repo.blobs.unlink(digest))) throw new RegistryError('BLOB_UNKNOWN', undefined, { digest: digest.value });
    sendEmpty(ctx, 202, { 'Docker-Content-Digest': digest.value });
    ctx.events?.blobDeleted(ctx, repo.name, digest);
    return;
  }

  const desc = repo.blobs.cachedStat?.(digest) ?? (await repo.blobs.stat(digest));
  if (!desc) throw new RegistryError('BLOB_UNKNOWN', undefined, { digest: digest.value });
  const etag = `"${digest.value}"`;
  const headers: Record<string, string | number> = {
    'Docker-Content-Digest': digest.value,
    ETag: etag,
    'Accept-Ranges': 'bytes',
    'Cache-Control': 'max-age=31536000',
    'Content-Type': 'application/octet-stream',
  };
  if (ctx.req.headers['if-none-match'] === etag) {
    ctx.res.writeHead(304, headers);
    ctx.res.end();
    ctx.events?.blobPulled(ctx, repo.name, digest, desc.size);
    return;
  }
  if (!ctx.config.storage.redirect.disable) {
    const url = await repo.blobs.redirectURL(digest, ctx.method === 'HEAD' ? 'HEAD' : 'GET');
    if (url) {
      ctx.res.writeHead(307, { Location: url, 'Docker-Content-Digest': digest.value, 'Content-Length': 0 });
      ctx.res.end();
      ctx.events?.blobPulled(ctx, repo.name, digest, desc.size);
      return;
    }
  }

  const range = parseRange(ctx.req.headers.range, desc.size);
  if (range === 'unsatisfiable') {
    throw new RegistryError('RANGE_INVALID', 'requested range not satisfiable', { size: desc.size }, { headers: { 'Content-Range': `bytes */${desc.size}` } });
  }
  const [start, end] = range ?? [0, desc.size - 1];
  const length = end - start + 1;
  if (range) headers['Content-Range'] = `bytes ${start}-${end}/${desc.size}`;
  headers['Content-Length'] = Math.max(length, 0);

  if (ctx.method === 'HEAD') {
    ctx.res.writeHead(range ? 206 : 200, headers);
    ctx.res.end();
    ctx.events?.blobPulled(ctx, repo.name, digest, desc.size);
    return;
  }
  const file = length > 0 ? await repo.blobs.openRead(digest, start) : undefined;
  const pulled = () => ctx.events?.blobPulled(ctx, repo.name, digest, desc.size);
  if (file) {
    ctx.res.writeHead(range ? 206 : 200, headers);
    // Distribution's listener reports a pull once the blob has been written out, before its file
    // is closed: events of the client's next requests come after it.
    await sendFile(file, ctx.res, start, length, pulled);
    return;
  }
  const stream = await repo.blobs.reader(digest, start, length > 0 ? length : 0);
  ctx.res.writeHead(range ? 206 : 200, headers);
  await pipeline(stream, ctx.res);
  // Distribution's listener reports a pull once the blob has been served (GET and HEAD alike).
  pulled();
}

/**
 * One `bytes=` range of the blob, as inclusive [start, end]; undefined to serve it whole (no
 * Range, a syntax we ignore as RFC 9110 allows, or several ranges).
 */
export function parseRange(header: string | undefined, size: number): [number, number] | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return [Math.max(size - suffix, 0), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return [start, end];
}
