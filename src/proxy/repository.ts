import type { Readable } from 'node:stream';
import { RegistryError } from '../oci/errors.js';
import { digestOf, tryParseDigest, type Digest } from '../oci/digest.js';
import type { RandomAccessFile } from '../storage/driver/types.js';
import type { BlobDescriptor } from '../storage/blobs.js';
import type { PageNeed } from '../storage/listing/sorted.js';
import type { LocalRepository } from '../storage/local-repository.js';
import { MAX_MANIFEST_BYTES, type CachedInfo, type StoredManifest } from '../storage/manifests/store.js';
import type { Repository, RepositoryBlobs, RepositoryManifests, RepositoryTags, RepositoryUploads } from '../storage/repository.js';
import type { UploadStatus } from '../storage/uploads.js';
import { compareBytes } from '../storage/listing/sorted.js';
import { BlobFetch } from './blob-fetch.js';
import type { FetchTurn, Mirror } from './mirror.js';
import { ENTRY_BLOB, ENTRY_MANIFEST } from './scheduler.js';
import { MANIFEST_ACCEPT, type Upstream } from './upstream.js';

/**
 * A mirrored repository: reads fall through to the upstream and land in the local repository
 * (the cache, in Distribution's layout); every write is refused (405 UNSUPPORTED), as in
 * Distribution. Each store implements the repository interfaces whole, so every operation,
 * including one added later, is decided here: proxied, served from the cache, or refused.
 *
 * - Tags: asked upstream (HEAD) on every resolve, so a moved tag is seen; the local tag follows.
 *   When the upstream cannot answer, the cached tag is served.
 * - Manifests and blobs by digest: served from storage when present (a hit, which refreshes their
 *   expiry), else fetched, stored, and then served (a miss).
 */
export class MirroredRepository implements Repository {
  readonly name: string;
  readonly blobs: MirroredBlobs;
  readonly manifests: MirroredManifests;
  readonly tags: MirroredTags;
  readonly uploads: RefusedUploads;

  constructor(mirror: Mirror, local: LocalRepository, upstream: Upstream, remote: string) {
    const route = new Route(mirror, local, upstream, remote);
    this.name = local.name;
    this.blobs = new MirroredBlobs(route);
    this.manifests = new MirroredManifests(route);
    this.tags = new MirroredTags(route, this.manifests);
    this.uploads = new RefusedUploads(route);
    this.route = route;
  }

  private readonly route: Route;

  hasManifests(): Promise<boolean> {
    return this.route.local.hasManifests();
  }

  async delete(): Promise<never> {
    throw this.route.refusal();
  }
}

/** What every store of one mirrored repository shares: where it reads from and where it caches. */
class Route {
  readonly scope: string;

  constructor(
    readonly mirror: Mirror,
    readonly local: LocalRepository,
    readonly upstream: Upstream,
    readonly remote: string,
  ) {
    this.scope = `repository:${remote}:pull`;
  }

  get name(): string {
    return this.local.name;
  }

  get metrics(): Upstream['metrics'] {
    return this.upstream.metrics;
  }

  /** The key of a fetch from the upstream of this repository's blob or manifest (Mirror.blobFetch, Mirror.once). */
  key(digest: Digest): string {
    return `${this.name}@${digest.value}`;
  }

  /** Pulls refresh the cached entry's expiry. */
  touch(digest: Digest, type: number): void {
    this.mirror.touch({ name: this.name, digest: digest.value, type, ttlMs: this.upstream.config.ttlMs });
  }

  refusal(): RegistryError {
    return new RegistryError('UNSUPPORTED', `repository ${this.name} is a pull-through cache of ${this.upstream.url}/${this.remote}: pushes and deletes are not accepted`);
  }
}

/**
 * This process's turn to fetch `key` from the upstream, or what `stored` finds once another has
 * fetched it: with workers one fetches, the others wait for it and read what it stored (a turn
 * that ends without it stored, the fetch having failed, makes the next waiter fetch).
 */
async function turnOrStored<T>(mirror: Pick<Mirror, 'fetchTurn'>, key: string, stored: () => Promise<T | undefined>): Promise<{ release(): void } | { stored: T }> {
  let turn: FetchTurn;
  while ((turn = await mirror.fetchTurn(key)) === 'fetched-elsewhere') {
    const found = await stored();
    if (found !== undefined) return { stored: found };
  }
  return turn;
}

class MirroredBlobs implements RepositoryBlobs {
  constructor(private readonly route: Route) {}

  /** The running fetch of the blob, or a new one; undefined when the upstream does not have it. */
  private fetch(digest: Digest): Promise<BlobFetch | undefined> {
    const { mirror, upstream, remote, local, metrics } = this.route;
    const key = this.route.key(digest);
    return mirror.blobFetch(key, async () => {
      const turn = await turnOrStored(mirror, key, async () => (await local.blobs.stat(digest)) ?? undefined);
      if ('stored' in turn) {
        metrics.hit('blob');
        return BlobFetch.landed(local, digest, turn.stored.size);
      }
      const { release } = turn;
      let fetch: BlobFetch;
      try {
        metrics.miss('blob');
        const res = await upstream.request('GET', `/v2/${remote}/blobs/${digest.value}`, this.route.scope);
        if (res.status === 404) {
          res.discard();
          release();
          return undefined;
        }
        if (res.status !== 200) throw upstream.unexpected(res, `blob ${remote}@${digest.value}`);
        const length = res.headers.get('content-length');
        fetch = new BlobFetch(local, digest, length !== null && /^\d+$/.test(length) ? Number(length) : -1, res.body());
      } catch (err) {
        release();
        throw err;
      }
      void fetch.done.catch(() => undefined).finally(release);
      fetch.done.then(
        () => {
          metrics.pulled('blob', fetch.received);
          this.route.touch(digest, ENTRY_BLOB);
        },
        (err: unknown) => mirror.log.warn({ err, upstream: upstream.url, repository: local.name, digest: digest.value }, 'mirror: fetching a blob failed'),
      );
      return fetch;
    });
  }

  async stat(digest: Digest): Promise<BlobDescriptor | undefined> {
    const { mirror, local, metrics } = this.route;
    metrics.request('blob');
    const running = mirror.runningBlob(this.route.key(digest));
    if (!running) {
      const desc = await local.blobs.stat(digest);
      if (desc) {
        metrics.hit('blob');
        this.route.touch(digest, ENTRY_BLOB);
        return desc;
      }
    }
    // As in Distribution, a HEAD of an uncached blob fetches it into the cache.
    const fetch = running ?? (await this.fetch(digest));
    if (!fetch) return undefined;
    if (fetch.size >= 0) return { digest, size: fetch.size };
    await fetch.done;
    return local.blobs.stat(digest);
  }

  async reader(digest: Digest, offset?: number, length?: number): Promise<Readable> {
    const running = this.route.mirror.runningBlob(this.route.key(digest));
    if (running) return running.reader(offset, length);
    try {
      return await this.route.local.blobs.reader(digest, offset, length);
    } catch (err) {
      if (!(err instanceof RegistryError) || err.code !== 'BLOB_UNKNOWN') throw err;
    }
    const fetch = await this.fetch(digest);
    if (!fetch) throw new RegistryError('BLOB_UNKNOWN', undefined, { digest: digest.value });
    return fetch.reader(offset, length);
  }

  /** Downloads go through reader(), which fetches from the upstream what is not cached yet. */
  async openRead(): Promise<RandomAccessFile | undefined> {
    return undefined;
  }

  async redirectURL(digest: Digest, method: 'GET' | 'HEAD'): Promise<string | undefined> {
    // Content still arriving is streamed by this process.
    if (this.route.mirror.runningBlob(this.route.key(digest))) return undefined;
    return this.route.local.blobs.redirectURL(digest, method);
  }

  async mountFrom(): Promise<never> {
    throw this.route.refusal();
  }

  async unlink(): Promise<never> {
    throw this.route.refusal();
  }
}

class MirroredManifests implements RepositoryManifests {
  constructor(private readonly route: Route) {}

  /** Makes the revision present locally (fetching it by digest); false when the upstream does not have it. */
  async ensure(digest: Digest): Promise<boolean> {
    const { mirror, local, upstream, remote, metrics } = this.route;
    if (await local.manifests.has(digest)) {
      metrics.hit('manifest');
      this.route.touch(digest, ENTRY_MANIFEST);
      return true;
    }
    const key = this.route.key(digest);
    return mirror.once(key, async () => {
      // The turn has a key of its own, as a blob with the same digest is fetched and stored apart.
      const turn = await turnOrStored(mirror, `${key} manifest`, async () => ((await local.manifests.has(digest)) ? true : undefined));
      if ('stored' in turn) {
        metrics.hit('manifest');
        this.route.touch(digest, ENTRY_MANIFEST);
        return true;
      }
      try {
        metrics.miss('manifest');
        const res = await upstream.request('GET', `/v2/${remote}/manifests/${digest.value}`, this.route.scope, MANIFEST_ACCEPT);
        if (res.status === 404) {
          res.discard();
          return false;
        }
        if (res.status !== 200) throw upstream.unexpected(res, `manifest ${remote}@${digest.value}`);
        await this.store(await res.bytes(MAX_MANIFEST_BYTES), res.headers.get('content-type'), digest);
        return true;
      } finally {
        turn.release();
      }
    });
  }

  /** Caches a manifest the upstream sent, checked against the digest it was asked by (when it was). */
  async store(content: Buffer, contentType: string | null, expected: Digest | undefined): Promise<Digest> {
    const { local, upstream, remote, metrics } = this.route;
    const digest = digestOf(content, expected?.algorithm ?? 'sha256');
    if (expected && digest.value !== expected.value) {
      throw upstream.failure('invalid', `manifest ${remote}@${expected.value} arrived with digest ${digest.value}`, 502);
    }
    await local.manifests.put(content, contentType ?? undefined, { digest });
    metrics.pulled('manifest', content.length);
    this.route.touch(digest, ENTRY_MANIFEST);
    return digest;
  }

  /** A revision not cached yet is fetched from the upstream. */
  async has(digest: Digest): Promise<boolean> {
    this.route.metrics.request('manifest');
    return this.ensure(digest);
  }

  async stat(digest: Digest): Promise<CachedInfo | undefined> {
    return (await this.has(digest)) ? this.route.local.manifests.info(digest) : undefined;
  }

  async get(digest: Digest): Promise<StoredManifest | undefined> {
    return (await this.has(digest)) ? this.route.local.manifests.read(digest) : undefined;
  }

  /** Referrers are what is cached. */
  revisions(): Promise<Digest[]> {
    return this.route.local.manifests.revisions();
  }

  info(digest: Digest): Promise<CachedInfo | undefined> {
    return this.route.local.manifests.info(digest);
  }

  async put(): Promise<never> {
    throw this.route.refusal();
  }

  async delete(): Promise<never> {
    throw this.route.refusal();
  }
}

class MirroredTags implements RepositoryTags {
  constructor(
    private readonly route: Route,
    private readonly manifests: MirroredManifests,
  ) {}

  async resolve(tag: string): Promise<Digest | undefined> {
    const { mirror, local, upstream, remote } = this.route;
    let res;
    try {
      res = await upstream.request('HEAD', `/v2/${remote}/manifests/${tag}`, this.route.scope, MANIFEST_ACCEPT);
    } catch (err) {
      const cached = await local.tags.resolve(tag);
      if (cached) {
        mirror.log.warn({ upstream: upstream.url, repository: local.name, tag, reason: (err as Error).message }, 'mirror: upstream unavailable, serving the cached tag');
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
      if (!(await this.manifests.ensure(digest))) throw new RegistryError('MANIFEST_UNKNOWN', `upstream ${upstream.url} lists ${remote}:${tag} but not its manifest`, { tag });
    } else {
      // An upstream that does not name the digest on HEAD: fetch by tag.
      const got = await upstream.request('GET', `/v2/${remote}/manifests/${tag}`, this.route.scope, MANIFEST_ACCEPT);
      if (got.status !== 200) throw upstream.unexpected(got, `${remote}:${tag}`);
      this.route.metrics.miss('manifest');
      digest = await this.manifests.store(await got.bytes(MAX_MANIFEST_BYTES), got.headers.get('content-type'), undefined);
    }
    if ((await local.tags.resolve(tag))?.value !== digest.value) await local.tags.tag(tag, digest);
    return digest;
  }

  /** Nothing: a mirrored tag's target is the upstream's, asked on every resolve. */
  recent(): undefined {
    return undefined;
  }

  /** The upstream's tags (every page; `need` is not passed on); the cached tags when it cannot answer. */
  async list(need?: PageNeed): Promise<string[]> {
    const { mirror, local, upstream, remote } = this.route;
    try {
      return await upstreamTags(upstream, remote, this.route.scope);
    } catch (err) {
      mirror.log.warn({ upstream: upstream.url, repository: local.name, reason: (err as Error).message }, 'mirror: upstream tag list unavailable, listing cached tags');
      return local.tags.list(need);
    }
  }

  /** The cached tags on `digest` (for the events of a delete, which is refused). */
  lookup(digest: Digest): Promise<string[]> {
    return this.route.local.tags.lookup(digest);
  }

  async untag(): Promise<never> {
    throw this.route.refusal();
  }
}

/** Nothing is uploaded into a mirrored repository: its blobs come from the upstream. */
class RefusedUploads implements RepositoryUploads {
  constructor(private readonly route: Route) {}

  async create(): Promise<UploadStatus> {
    throw this.route.refusal();
  }
  async putWhole(): Promise<never> {
    throw this.route.refusal();
  }
  async status(): Promise<never> {
    throw this.route.refusal();
  }
  async append(): Promise<never> {
    throw this.route.refusal();
  }
  async commit(): Promise<never> {
    throw this.route.refusal();
  }
  async cancel(): Promise<never> {
    throw this.route.refusal();
  }
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
