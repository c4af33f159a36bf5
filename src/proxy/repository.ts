import type { Readable } from 'node:stream';
import { RegistryError } from '../oci/errors.js';
import { digestOf, tryParseDigest, type Digest } from '../oci/digest.js';
import type { Repository } from '../storage/registry.js';
import type { BlobDescriptor } from '../storage/blobs.js';
import { MAX_MANIFEST_BYTES } from '../storage/manifests/store.js';
import { compareBytes } from '../storage/cache.js';
import { BlobFetch } from './blob-fetch.js';
import type { Mirror } from './mirror.js';
import { ENTRY_BLOB, ENTRY_MANIFEST } from './scheduler.js';
import { MANIFEST_ACCEPT, type Upstream } from './upstream.js';

/**
 * A mirrored repository: the local repository's stores (the cache, in Distribution's layout)
 * decorated so that reads fall through to the upstream. Each decorated store is an object whose
 * prototype is the local store, with only the proxying methods replaced; the local store's own
 * methods that call them (statOrThrow → stat, ManifestStore.get/stat → has) go through the
 * proxy too. Pushes, deletes and uploads are refused (405 UNSUPPORTED), as in Distribution.
 *
 * - Tags: asked upstream (HEAD) on every resolve, so a moved tag is seen; the local tag follows.
 *   When the upstream cannot answer, the cached tag is served.
 * - Manifests and blobs by digest: served from storage when present (a hit, which refreshes their
 *   expiry), else fetched, stored, and then served (a miss).
 */
export function proxiedRepository(mirror: Mirror, local: Repository, upstream: Upstream, remote: string): Repository {
  const name = local.name;
  const scope = `repository:${remote}:pull`;
  const metrics = upstream.metrics;
  const ttl = upstream.config.ttlMs;
  const refuse = (): never => {
    throw new RegistryError('UNSUPPORTED', `repository ${name} is a pull-through cache of ${upstream.url}/${remote}: pushes and deletes are not accepted`);
  };

  // ---- blobs ----
  const blobKey = (d: Digest) => `${name}@${d.value}`;

  /** The running fetch of the blob, or a new one; undefined when the upstream does not have it. */
  const fetchBlob = (digest: Digest): Promise<BlobFetch | undefined> =>
    mirror.blobFetch(blobKey(digest), async () => {
      metrics.miss('blob');
      const res = await upstream.request('GET', `/v2/${remote}/blobs/${digest.value}`, scope);
      if (res.status === 404) {
        res.discard();
        return undefined;
      }
      if (res.status !== 200) throw upstream.unexpected(res, `blob ${remote}@${digest.value}`);
      const length = res.headers.get('content-length');
      const fetch = new BlobFetch(local, digest, length !== null && /^\d+$/.test(length) ? Number(length) : -1, res.body());
      fetch.done.then(
        () => {
          metrics.pulled('blob', fetch.received);
          mirror.scheduler?.touch(name, digest.value, ENTRY_BLOB, ttl);
        },
        (err: unknown) => mirror.log.warn({ err, upstream: upstream.url, repository: name, digest: digest.value }, 'mirror: fetching a blob failed'),
      );
      return fetch;
    });

  const blobs = Object.create(local.blobs) as Repository['blobs'];
  Object.assign(blobs, {
    async stat(digest: Digest): Promise<BlobDescriptor | undefined> {
      metrics.request('blob');
      const running = mirror.runningBlob(blobKey(digest));
      if (!running) {
        const desc = await local.blobs.stat(digest);
        if (desc) {
          metrics.hit('blob');
          mirror.scheduler?.touch(name, digest.value, ENTRY_BLOB, ttl);
          return desc;
        }
      }
      // As in Distribution, a HEAD of an uncached blob fetches it into the cache.
      const fetch = running ?? (await fetchBlob(digest));
      if (!fetch) return undefined;
      if (fetch.size >= 0) return { digest, size: fetch.size };
      await fetch.done;
      return local.blobs.stat(digest);
    },
    async reader(digest: Digest, offset?: number, length?: number): Promise<Readable> {
      const running = mirror.runningBlob(blobKey(digest));
      if (running) return running.reader(offset, length);
      try {
        return await local.blobs.reader(digest, offset, length);
      } catch (err) {
        if (!(err instanceof RegistryError) || err.code !== 'BLOB_UNKNOWN') throw err;
      }
      const fetch = await fetchBlob(digest);
      if (!fetch) throw new RegistryError('BLOB_UNKNOWN', undefined, { digest: digest.value });
      return fetch.reader(offset, length);
    },
    // Downloads go through reader(), which fetches from the upstream what is not cached yet.
    openRead: async () => undefined,
    async redirectURL(digest: Digest, method: 'GET' | 'HEAD'): Promise<string | undefined> {
      // Content still arriving is streamed by this process.
      if (mirror.runningBlob(blobKey(digest))) return undefined;
      return local.blobs.redirectURL(digest, method);
    },
    mountFrom: refuse,
    link: refuse,
    unlink: refuse,
  } satisfies Partial<Repository['blobs']>);

  // ---- manifests ----
  /** Makes the revision present locally (fetching it by digest); false when the upstream does not have it. */
  const ensureManifest = async (digest: Digest): Promise<boolean> => {
    if (await local.manifests.has(digest)) {
      metrics.hit('manifest');
      mirror.scheduler?.touch(name, digest.value, ENTRY_MANIFEST, ttl);
      return true;
    }
    return mirror.once(`m:${name}@${digest.value}`, async () => {
      metrics.miss('manifest');
      const res = await upstream.request('GET', `/v2/${remote}/manifests/${digest.value}`, scope, MANIFEST_ACCEPT);
      if (res.status === 404) {
        res.discard();
        return false;
      }
      if (res.status !== 200) throw upstream.unexpected(res, `manifest ${remote}@${digest.value}`);
      await storeManifest(await res.bytes(MAX_MANIFEST_BYTES), res.headers.get('content-type'), digest);
      return true;
    });
  };

  const storeManifest = async (content: Buffer, contentType: string | null, expected: Digest | undefined): Promise<Digest> => {
    const digest = digestOf(content, expected?.algorithm ?? 'sha256');
    if (expected && digest.value !== expected.value) {
      throw upstream.failure('invalid', `manifest ${remote}@${expected.value} arrived with digest ${digest.value}`, 502);
    }
    await local.manifests.put(content, contentType ?? undefined, { digest });
    metrics.pulled('manifest', content.length);
    mirror.scheduler?.touch(name, digest.value, ENTRY_MANIFEST, ttl);
    return digest;
  };

  const manifests = Object.create(local.manifests) as Repository['manifests'];
  Object.assign(manifests, {
    // ManifestStore.stat and .get ask has() first: this is where a miss is fetched.
    async has(digest: Digest): Promise<boolean> {
      metrics.request('manifest');
      return ensureManifest(digest);
    },
    put: refuse,
    delete: refuse,
  } satisfies Partial<Repository['manifests']>);

  // ---- tags ----
  const tags = Object.create(local.tags) as Repository['tags'];
  Object.assign(tags, {
    async resolve(tag: string): Promise<Digest | undefined> {
      let res;
      try {
        res = await upstream.request('HEAD', `/v2/${remote}/manifests/${tag}`, scope, MANIFEST_ACCEPT);
      } catch (err) {
        const cached = await local.tags.resolve(tag);
        if (cached) {
          mirror.log.warn({ upstream: upstream.url, repository: name, tag, reason: (err as Error).message }, 'mirror: upstream unavailable, serving the cached tag');
          return cached;
        }
        throw err;
      }
      if (res.status !== 200) {
        res.discard();
        // As Distribution: whatever the upstream says, a tag already cached is still served.
        const cached = await local.tags.resolve(tag);
        if (cached || res.status === 404) return cached;
        throw upstream.unexpected(res, `${remote}:${tag}`);
      }
      res.discard();
      let digest = tryParseDigest(res.headers.get('docker-content-digest') ?? '');
      if (digest) {
        if (!(await ensureManifest(digest))) throw new RegistryError('MANIFEST_UNKNOWN', `upstream ${upstream.url} lists ${remote}:${tag} but not its manifest`, { tag });
      } else {
        // An upstream that does not name the digest on HEAD: fetch by tag.
        const got = await upstream.request('GET', `/v2/${remote}/manifests/${tag}`, scope, MANIFEST_ACCEPT);
        if (got.status !== 200) throw upstream.unexpected(got, `${remote}:${tag}`);
        metrics.miss('manifest');
        digest = await storeManifest(await got.bytes(MAX_MANIFEST_BYTES), got.headers.get('content-type'), undefined);
      }
      if ((await local.tags.resolve(tag))?.value !== digest.value) await local.tags.tag(tag, digest);
      return digest;
    },
    async list(): Promise<string[]> {
      try {
        return await upstreamTags(upstream, remote, scope);
      } catch (err) {
        mirror.log.warn({ upstream: upstream.url, repository: name, reason: (err as Error).message }, 'mirror: upstream tag list unavailable, listing cached tags');
        return local.tags.list();
      }
    },
    tag: refuse,
    untag: refuse,
  } satisfies Partial<Repository['tags']>);

  const uploads = Object.create(local.uploads) as Repository['uploads'];
  Object.assign(uploads, { create: refuse, putWhole: refuse, status: refuse, append: refuse, commit: refuse, cancel: refuse } satisfies Partial<Repository['uploads']>);

  return { name, blobs, manifests, tags, uploads };
}

/** Every tag upstream (following Link pages), sorted as the local store sorts them. */
async function upstreamTags(upstream: Upstream, remote: string, scope: string): Promise<string[]> {
  const out: string[] = [];
  let path: string | undefined = `/v2/${remote}/tags/list`;
  for (let page = 0; path && page < 1000; page++) {
    const res = await upstream.request('GET', path, scope);
    if (res.status !== 200) throw upstream.unexpected(res, `tags of ${remote}`);
    const body = JSON.parse((await res.bytes(16 * 1024 * 1024)).toString('utf8')) as { tags?: unknown };
    if (Array.isArray(body.tags)) for (const t of body.tags) if (typeof t === 'string') out.push(t);
    const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(res.headers.get('link') ?? '')?.[1];
    path = next ? nextPath(upstream.url, next) : undefined;
  }
  return [...new Set(out)].sort(compareBytes);
}

/** A Link target relative to the upstream's URL (only paths on the upstream itself are followed). */
function nextPath(base: string, link: string): string | undefined {
  const url = new URL(link, `${base}/`);
  const origin = new URL(base);
  if (url.origin !== origin.origin) return undefined;
  const prefix = origin.pathname.replace(/\/+$/, '');
  return url.pathname.startsWith(`${prefix}/v2/`) ? `${url.pathname.slice(prefix.length)}${url.search}` : undefined;
}
