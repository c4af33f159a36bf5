import { RegistryError } from '../oci/errors.js';
import { parseDigest, tryParseDigest } from '../oci/digest.js';
import { isValidName } from '../oci/names.js';
import type { Repository } from '../storage/repository.js';
import { uploadRange, type ChunkExpectation } from '../storage/uploads.js';
import { packUploadState, uploadSecret, verifyUploadState } from '../storage/upload-token.js';
import { type Context, hasBody, sendEmpty } from './context.js';
import { requireWritable } from './guards.js';
import { requestBody } from './body/socket-reads.js';

function uploadHeaders(ctx: Context, repo: Repository, id: string, size: number) {
  // Signed upload state, as Distribution: any instance sharing http.secret continues the upload.
  const state = packUploadState(uploadSecret(ctx.config.http), { Name: repo.name, UUID: id, Offset: size, StartedAt: new Date().toISOString() });
  return {
    Location: ctx.url(`/v2/${repo.name}/blobs/uploads/${id}?_state=${state}`),
    Range: uploadRange(size),
    'Docker-Upload-UUID': id,
  };
}

function createdHeaders(ctx: Context, repo: Repository, digest: string) {
  return { Location: ctx.url(`/v2/${repo.name}/blobs/${digest}`), 'Docker-Content-Digest': digest };
}

/** POST /v2/<name>/blobs/uploads/ — start a session, upload whole (?digest=), or mount (?mount=&from=). */
export async function handleUploadStart(ctx: Context, repo: Repository): Promise<void> {
  if (ctx.method !== 'POST') throw new RegistryError('UNSUPPORTED', 'method not allowed', undefined, { headers: { Allow: 'POST' } });
  requireWritable(ctx);

  const mount = ctx.query.get('mount');
  if (mount !== null) {
    // Per the spec, a mount that cannot happen (bad digest, unknown source) falls back to a session.
    const digest = tryParseDigest(mount);
    const from = ctx.query.get('from');
    if (digest && (from === null || isValidName(from))) {
      const source = from === null ? undefined : ctx.registry.repository(from).blobs;
      const mounted = await repo.blobs.mountFrom(source, digest);
      if (mounted) {
        ctx.req.resume();
        sendEmpty(ctx, 201, createdHeaders(ctx, repo, digest.value));
        ctx.events?.blobMounted(ctx, repo.name, digest, mounted.size, from ?? undefined);
        return;
      }
    }
  }

  const digestParam = ctx.query.get('digest');
  if (digestParam !== null) {
    const digest = parseDigest(digestParam);
    const blob = await repo.uploads.putWhole(digest, requestBody(ctx.req), contentLength(ctx));
    sendEmpty(ctx, 201, createdHeaders(ctx, repo, digest.value));
    ctx.events?.blobPushed(ctx, repo.name, digest, blob.size);
    return;
  }

  ctx.req.resume();
  const upload = await repo.uploads.create();
  sendEmpty(ctx, 202, uploadHeaders(ctx, repo, upload.id, upload.size));
}

/**
 * GET/PATCH/PUT/DELETE /v2/<name>/blobs/uploads/<id>, at the Location the registry sent, whose
 * signed `_state` is required (as Distribution does): it proves the URL was issued for this
 * repository and upload, by any instance sharing http.secret. A PATCH or PUT must also come from
 * where the upload stands: a `_state` whose Offset is not the upload's size (a client continuing
 * from an older Location) is answered 416 with the current Range and a fresh Location, and the
 * upload is kept so the client can resume. A GET (how a client learns where to resume) and a
 * DELETE do not check the offset. Distribution 2.8.2 answers any request from an older Location
 * 404 BLOB_UPLOAD_INVALID and keeps the upload (docs/compatibility.md).
 */
export async function handleUpload(ctx: Context, repo: Repository, id: string): Promise<void> {
  const token = ctx.query.get('_state');
  if (token === null) throw new RegistryError('BLOB_UPLOAD_INVALID', 'the upload URL lacks its _state parameter: use the Location the registry sent', { id });
  const { Offset: offset } = verifyUploadState(uploadSecret(ctx.config.http), token, repo.name, id);
  switch (ctx.method) {
    case 'GET': {
      const status = await repo.uploads.status(id);
      return sendEmpty(ctx, 204, uploadHeaders(ctx, repo, id, status.size));
    }
    case 'PATCH': {
      requireWritable(ctx);
      const status = await withUploadState(ctx, repo, id, () => repo.uploads.append(id, requestBody(ctx.req), { ...chunkExpectation(ctx), offset }));
      return sendEmpty(ctx, 202, uploadHeaders(ctx, repo, id, status.size));
    }
    case 'PUT': {
      requireWritable(ctx);
      const digestParam = ctx.query.get('digest');
      if (digestParam === null) throw new RegistryError('DIGEST_INVALID', 'the digest parameter is required to complete an upload');
      const digest = parseDigest(digestParam);
      const body = hasBody(ctx.req) ? requestBody(ctx.req) : undefined;
      if (!body) ctx.req.resume();
      const blob = await withUploadState(ctx, repo, id, () => repo.uploads.commit(id, digest, body, { ...(body ? chunkExpectation(ctx) : {}), offset }));
      sendEmpty(ctx, 201, createdHeaders(ctx, repo, digest.value));
      ctx.events?.blobPushed(ctx, repo.name, digest, blob.size);
      return;
    }
    case 'DELETE':
      requireWritable(ctx);
      await repo.uploads.cancel(id);
      return sendEmpty(ctx, 204);
    default:
      throw new RegistryError('UNSUPPORTED', 'method not allowed', undefined, { headers: { Allow: 'GET, PATCH, PUT, DELETE' } });
  }
}

/** A 416 tells the client where the upload stands, so it can resume (the spec's Range and Location). */
async function withUploadState<T>(ctx: Context, repo: Repository, id: string, task: () => Promise<T>): Promise<T> {
  try {
    return await task();
  } catch (err) {
    if (!(err instanceof RegistryError) || err.code !== 'RANGE_INVALID') throw err;
    const status = await repo.uploads.status(id);
    throw new RegistryError(err.code, err.message, err.detail, { headers: { ...err.headers, ...uploadHeaders(ctx, repo, id, status.size) } });
  }
}

function contentLength(ctx: Context): ChunkExpectation {
  const header = ctx.req.headers['content-length'];
  return header !== undefined && /^\d+$/.test(header) ? { length: Number(header) } : {};
}

/** Content-Range ("<start>-<end>", inclusive, the spec's grammar) and Content-Length of a chunk. */
function chunkExpectation(ctx: Context): ChunkExpectation {
  const header = ctx.req.headers['content-range'];
  const expect = contentLength(ctx);
  if (header === undefined) return expect;
  const m = /^(\d+)-(\d+)$/.exec(header.trim());
  const start = m ? Number(m[1]) : NaN;
  const end = m ? Number(m[2]) : NaN;
  if (!m || end < start || !Number.isSafeInteger(end)) {
    ctx.req.resume();
    throw new RegistryError('RANGE_INVALID', 'malformed Content-Range', { contentRange: header });
  }
  const length = end - start + 1;
  if (expect.length !== undefined && expect.length !== length) {
    ctx.req.resume();
    throw new RegistryError('SIZE_INVALID', 'Content-Length does not match Content-Range', { contentRange: header, contentLength: expect.length });
  }
  return { start, length };
}
