import { RegistryError } from '../oci/errors.js';
import { isDigestLike, parseDigest, type Digest } from '../oci/digest.js';
import { isValidTag } from '../oci/names.js';
import type { Repository } from '../storage/repository.js';
import { MAX_MANIFEST_BYTES } from '../storage/manifests/store.js';
import { type Context, readBody, sendEmpty } from './context.js';
import { requireDeleteEnabled, requireWritable } from './guards.js';

type Reference = { tag: string; digest?: undefined } | { digest: Digest; tag?: undefined };

/**
 * A tag or a digest. A PUT with anything else is refused as invalid; a lookup (GET, HEAD, DELETE)
 * of it finds nothing, so it answers 404 MANIFEST_UNKNOWN as Distribution does, and as clients and
 * conformance suites expect of anything that does not exist.
 */
function parseReference(reference: string, lookup: boolean): Reference {
  const notFound = (cause: unknown) =>
    new RegistryError('MANIFEST_UNKNOWN', 'reference is neither a valid tag nor a valid digest', { reference }, { cause });
  if (isDigestLike(reference)) {
    try {
      return { digest: parseDigest(reference) };
    } catch (err) {
      throw lookup ? notFound(err) : err;
    }
  }
  if (!isValidTag(reference)) throw lookup ? notFound(undefined) : new RegistryError('TAG_INVALID', 'invalid tag', { tag: reference });
  return { tag: reference };
}

/** GET/HEAD/PUT/DELETE /v2/<name>/manifests/<reference> */
export async function handleManifest(ctx: Context, repo: Repository, rawReference: string): Promise<void> {
  const ref = parseReference(rawReference, ctx.method !== 'PUT');
  switch (ctx.method) {
    case 'GET':
    case 'HEAD':
      return getManifest(ctx, repo, ref);
    case 'PUT':
      return putManifest(ctx, repo, ref);
    case 'DELETE':
      return deleteManifest(ctx, repo, ref);
    default:
      throw new RegistryError('UNSUPPORTED', 'method not allowed', undefined, { headers: { Allow: 'GET, HEAD, PUT, DELETE' } });
  }
}

/** The digest `ref` names when that needs no read: a digest, or a tag whose target is cached. */
function known(repo: Repository, ref: Reference): Digest | undefined {
  if (ref.digest) return ref.digest;
  return repo.tags.cachedTarget?.(ref.tag);
}

async function resolve(repo: Repository, ref: Reference): Promise<Digest> {
  if (ref.digest) return ref.digest;
  const digest = await repo.tags.resolve(ref.tag);
  if (!digest) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { tag: ref.tag });
  return digest;
}

async function getManifest(ctx: Context, repo: Repository, ref: Reference): Promise<void> {
  // The cached reads first (src/storage/repository.ts): a pull of a cached manifest awaits nothing.
  const digest = known(repo, ref) ?? (await resolve(repo, ref));
  const unknown = () => new RegistryError('MANIFEST_UNKNOWN', undefined, ref.tag ? { tag: ref.tag } : { digest: digest.value });
  // Stored bytes are returned as they are, with their own media type, whatever Accept says:
  // Berth never rewrites a manifest (as Distribution does for OCI content).
  if (ctx.method === 'HEAD') {
    const info = repo.manifests.cachedStat?.(digest) ?? (await repo.manifests.stat(digest));
    if (!info) throw unknown();
    ctx.res.writeHead(200, headers(digest, info.mediaType, info.size));
    ctx.res.end();
    ctx.events?.manifestPulled(ctx, repo.name, digest, info, ref.tag);
    return;
  }
  const manifest = repo.manifests.cached?.(digest) ?? (await repo.manifests.get(digest));
  if (!manifest) throw unknown();
  // A GET is a pull (a HEAD is not), a conditional one answered 304 too: noted in memory only.
  ctx.registry.records?.pulled(repo.name, digest);
  if (ctx.req.headers['if-none-match'] === `"${digest.value}"`) {
    ctx.res.writeHead(304, headers(digest, manifest.info.mediaType, manifest.content.length));
    ctx.res.end();
    return;
  }
  ctx.res.writeHead(200, headers(digest, manifest.info.mediaType, manifest.content.length));
  ctx.res.end(manifest.content);
  ctx.events?.manifestPulled(ctx, repo.name, digest, manifest.info, ref.tag);
}

function headers(digest: Digest, mediaType: string, size: number) {
  return { 'Content-Type': mediaType, 'Content-Length': size, 'Docker-Content-Digest': digest.value, ETag: `"${digest.value}"` };
}

async function putManifest(ctx: Context, repo: Repository, ref: Reference): Promise<void> {
  requireWritable(ctx);
  const declared = Number(ctx.req.headers['content-length'] ?? 0);
  const body = declared > MAX_MANIFEST_BYTES ? undefined : await readBody(ctx.req, MAX_MANIFEST_BYTES);
  if (!body) {
    // The rest of the body is not read: an HTTP/1 connection cannot be reused after it.
    if (ctx.req.httpVersionMajor === 1) ctx.res.setHeader('Connection', 'close');
    throw new RegistryError('MANIFEST_INVALID', `manifest larger than ${MAX_MANIFEST_BYTES} bytes`, undefined, { status: 413 });
  }
  const stored = await repo.manifests.put(body, ctx.req.headers['content-type'], ref);
  ctx.registry.records?.pushed(repo.name, stored.digest);
  const out: Record<string, string> = {
    Location: ctx.url(`/v2/${repo.name}/manifests/${stored.digest.value}`),
    'Docker-Content-Digest': stored.digest.value,
  };
  if (stored.info.subject) out['OCI-Subject'] = stored.info.subject.digest.value;
  sendEmpty(ctx, 201, out);
  ctx.events?.manifestPushed(ctx, repo.name, stored.digest, stored.info, ref.tag);
}

async function deleteManifest(ctx: Context, repo: Repository, ref: Reference): Promise<void> {
  requireWritable(ctx);
  requireDeleteEnabled(ctx);
  if (ref.digest === undefined) {
    if (!(await repo.tags.untag(ref.tag))) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { tag: ref.tag });
    sendEmpty(ctx, 202);
    ctx.events?.tagDeleted(ctx, repo.name, ref.tag);
    return;
  }
  // Events name each tag removed with the manifest, as Distribution's do.
  const tags = ctx.events ? await repo.tags.lookup(ref.digest) : [];
  if (!(await repo.manifests.delete(ref.digest))) {
    throw new RegistryError('MANIFEST_UNKNOWN', undefined, { digest: ref.digest.value });
  }
  sendEmpty(ctx, 202);
  ctx.events?.manifestDeleted(ctx, repo.name, ref.digest);
  for (const tag of tags) ctx.events?.tagDeleted(ctx, repo.name, tag);
}
