import { Readable } from 'node:stream';
import {
  BlobSASPermissions,
  BlobServiceClient,
  newPipeline,
  StorageSharedKeyCredential,
  type ContainerClient,
  type RequestPolicyFactory,
} from '@azure/storage-blob';
import { ConfigError } from '../../../config/errors.js';
import { InvalidOffsetError, PathNotFoundError, StorageDriverError, StorageUnavailableError } from '../errors.js';
import type { FileInfo, FileWriter, RedirectOptions, StorageDriver, WalkFn, WalkOptions, WriterOptions } from '../types.js';
import { compareWalkOrder, listFromChildren } from '../walk.js';

/**
 * The `azure` driver: Distribution's layout in an Azure Blob Storage container. Driver path P is
 * the blob `rootdirectory + P` without its leading slash. Parameters (Distribution's): accountname,
 * accountkey, container, realm (default core.windows.net), rootdirectory; Berth adds `serviceurl`
 * (e.g. Azurite's http://127.0.0.1:10000/devstoreaccount1) and `credentials.type: shared_key`
 * (the only type supported; client_secret and default_credentials are refused with a clear error).
 *
 * Writers use append blobs, as Distribution's azure driver does: every block appended is at once
 * part of the blob, so close() has nothing to flush and any instance can continue the file.
 * putContent writes a block blob (one request, atomic).
 *
 * The container is created when the driver starts if it does not exist, as Distribution does;
 * credentials that can neither create it nor see it stop start-up with one line naming it. A
 * container that goes away later makes every operation fail with StorageUnavailableError (503
 * UNAVAILABLE naming the container), never "not found" for what was in it.
 */
const NAME = 'azure';
const APPEND_BLOCK = 4 * 1024 * 1024;

/**
 * The SDK's retries of a failed call (refused or cut connections, 500 and 503 answers): 4 tries,
 * as its default, but 1 s apart and then 3 s (its default 4 s and 12 s made every request during
 * an outage wait 16 s for its 503; docs/operations.md, "Failure modes").
 */
const RETRIES = { maxTries: 4, retryDelayInMs: 1000 };

/**
 * `requesttimeout` for every try of every call. The Azure SDK has no client-side timeout of its
 * own (its `tryTimeoutInMs` is only a hint sent to the service), so a store that accepts
 * connections but never answers held each request until the connection failed. Its HTTP client
 * does honour a request's `timeout` (milliseconds until the answer's head, each try): this
 * policy sets it on every request, and a try that runs out is aborted. The SDK does not try an
 * aborted request again, so the call ends there, with an ETIMEDOUT error that storageFault
 * (../errors.ts) answers 503 UNAVAILABLE: a silent store is answered within `requesttimeout`
 * (plus any quick failed tries before it). A body that stops flowing after its head is not bounded.
 */
function tryTimeout(ms: number): RequestPolicyFactory {
  return {
    create: (next) => ({
      async sendRequest(request) {
        request.timeout = ms;
        try {
          return await next.sendRequest(request);
        } catch (err) {
          if ((err as { name?: unknown } | undefined)?.name !== 'AbortError') throw err;
          throw Object.assign(new Error(`${NAME}: no answer within ${ms} ms`, { cause: err }), { code: 'ETIMEDOUT' });
        }
      },
    }),
  };
}

interface AzureParams {
  accountname: string;
  accountkey: string;
  container: string;
  realm: string;
  rootdirectory: string;
  serviceurl?: string;
  /** Berth: milliseconds each try of a call may wait for its answer (0: no limit). Default 5 minutes, as s3's. */
  requesttimeout: number;
}

function parseParams(p: Record<string, unknown>): AzureParams {
  const str = (k: string) => (p[k] === undefined || p[k] === null || p[k] === '' ? undefined : String(p[k]));
  const creds = p.credentials as Record<string, unknown> | undefined;
  if (creds && creds.type !== undefined && creds.type !== 'shared_key') {
    throw new ConfigError(`storage.azure.credentials.type: "${String(creds.type)}" is not supported by Berth; use shared_key (accountname + accountkey)`);
  }
  const accountname = str('accountname');
  const accountkey = str('accountkey');
  const container = str('container');
  if (!accountname) throw new ConfigError('storage.azure.accountname: required');
  if (!accountkey) throw new ConfigError('storage.azure.accountkey: required');
  if (!container) throw new ConfigError('storage.azure.container: required');
  const params: AzureParams = {
    accountname,
    accountkey,
    container,
    realm: str('realm') ?? 'core.windows.net',
    rootdirectory: (str('rootdirectory') ?? '').replace(/^\/+|\/+$/g, ''),
    requesttimeout: 300_000,
  };
  const timeout = str('requesttimeout');
  if (timeout !== undefined) {
    if (!/^\d+$/.test(timeout.trim()) || !Number.isSafeInteger(Number(timeout))) throw new ConfigError(`storage.azure.requesttimeout: expected a whole number of milliseconds, got ${JSON.stringify(p.requesttimeout)}`);
    params.requesttimeout = Number(timeout);
  }
  const serviceurl = str('serviceurl');
  if (serviceurl) params.serviceurl = serviceurl.replace(/\/$/, '');
  return params;
}

export async function createAzureDriver(parameters: Record<string, unknown>): Promise<StorageDriver> {
  const driver = new AzureDriver(parseParams(parameters));
  await driver.ensureContainer();
  return driver;
}

function status(err: unknown): number | undefined {
  return (err as { statusCode?: number } | undefined)?.statusCode;
}

/** The service's error code (x-ms-error-code), e.g. ContainerNotFound, AuthorizationFailure. */
function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; details?: { errorCode?: unknown } } | undefined;
  const code = e?.details?.errorCode ?? e?.code;
  return typeof code === 'string' ? code : undefined;
}

export class AzureDriver implements StorageDriver {
  readonly name = NAME;
  readonly container: ContainerClient;
  private readonly credential: StorageSharedKeyCredential;

  constructor(readonly params: AzureParams) {
    this.credential = new StorageSharedKeyCredential(params.accountname, params.accountkey);
    const url = params.serviceurl ?? `https://${params.accountname}.blob.${params.realm}`;
    const pipeline = newPipeline(this.credential, { retryOptions: RETRIES });
    if (params.requesttimeout > 0) pipeline.factories.unshift(tryTimeout(params.requesttimeout));
    this.container = new BlobServiceClient(url, pipeline).getContainerClient(params.container);
  }

  /** Creates the container when it does not exist; throws a ConfigError when that cannot be done. */
  async ensureContainer(): Promise<void> {
    const name = this.params.container;
    try {
      await this.container.createIfNotExists();
      return;
    } catch (err) {
      const refused = `${status(err) ?? 'no answer'}${errorCode(err) ? ` ${errorCode(err)}` : ''}`;
      // Credentials that may use the container but not create it (an existing container) are fine.
      const exists = await this.container.exists().catch(() => undefined);
      if (exists === true) return;
      throw new ConfigError(`storage.azure.container: container "${name}" does not exist and could not be created (${refused}: ${firstLine(err)})`);
    }
  }

  /** A missing container, as the error every operation on it throws; any other error as it is. */
  translate(err: unknown): unknown {
    if (errorCode(err) !== 'ContainerNotFound') return err;
    return new StorageUnavailableError(NAME, `${NAME}: container "${this.params.container}" does not exist (it was there at start-up)`, { cause: err });
  }

  /** Whether `err` says the blob is not there; a missing container is thrown as unavailable. */
  private absent(err: unknown): boolean {
    if (errorCode(err) === 'ContainerNotFound') throw this.translate(err);
    return status(err) === 404;
  }

  /** Runs an operation with the container's absence translated. */
  async call<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (err) {
      throw this.translate(err);
    }
  }

  /** Pages of a listing with the container's absence translated. */
  private async *pages<T>(iterator: AsyncIterableIterator<T>): AsyncGenerator<T> {
    for (;;) {
      const next = await this.call(() => iterator.next());
      if (next.done) return;
      yield next.value;
    }
  }

  key(path: string): string {
    return this.params.rootdirectory ? this.params.rootdirectory + path : path.slice(1);
  }

  dirPrefix(path: string): string {
    if (path === '/') return this.params.rootdirectory ? this.params.rootdirectory + '/' : '';
    return this.key(path) + '/';
  }

  private pathOf(key: string): string {
    return this.params.rootdirectory ? key.slice(this.params.rootdirectory.length) : '/' + key;
  }

  blob(path: string) {
    return this.container.getBlockBlobClient(this.key(path));
  }

  async props(path: string): Promise<{ size: number; modTime: Date; type: string } | undefined> {
    try {
      const p = await this.blob(path).getProperties();
      return { size: p.contentLength ?? 0, modTime: p.lastModified ?? new Date(0), type: p.blobType ?? 'BlockBlob' };
    } catch (err) {
      if (this.absent(err)) return undefined;
      throw err;
    }
  }

  async getContent(path: string): Promise<Buffer> {
    const info = await this.props(path);
    if (!info) throw new PathNotFoundError(NAME, path);
    if (info.size === 0) return Buffer.alloc(0);
    try {
      return await this.blob(path).downloadToBuffer();
    } catch (err) {
      if (this.absent(err)) throw new PathNotFoundError(NAME, path);
      throw err;
    }
  }

  async putContent(path: string, content: Uint8Array): Promise<void> {
    await this.call(() => this.blob(path).uploadData(Buffer.from(content), { blobHTTPHeaders: { blobContentType: 'application/octet-stream' } }));
  }

  async reader(path: string, offset = 0, length?: number): Promise<Readable> {
    const info = await this.props(path);
    if (!info) throw new PathNotFoundError(NAME, path);
    if (offset > info.size) throw new InvalidOffsetError(NAME, path, offset);
    if (offset === info.size || length === 0) return Readable.from([]);
    try {
      const r = await this.blob(path).download(offset, length);
      return r.readableStreamBody as Readable;
    } catch (err) {
      if (this.absent(err)) throw new PathNotFoundError(NAME, path);
      throw err;
    }
  }

  async writer(path: string, { append = false }: WriterOptions = {}): Promise<FileWriter> {
    const client = this.container.getAppendBlobClient(this.key(path));
    if (!append) {
      await this.call(() => client.create({ blobHTTPHeaders: { blobContentType: 'application/octet-stream' } }));
      return new AzureWriter(this, path, 0);
    }
    const info = await this.props(path);
    if (!info) throw new PathNotFoundError(NAME, path);
    if (info.type !== 'AppendBlob') {
      // A block blob (from putContent) cannot be appended to: rewrite it as an append blob.
      const existing = await this.getContent(path);
      await this.call(async () => {
        await client.create({ blobHTTPHeaders: { blobContentType: 'application/octet-stream' } });
        if (existing.length) await appendAll(client, existing);
      });
    }
    return new AzureWriter(this, path, info.size);
  }

  async stat(path: string): Promise<FileInfo> {
    if (path === '/') return { path, size: 0, modTime: new Date(), isDir: true };
    const info = await this.props(path);
    if (info) return { path, size: info.size, modTime: info.modTime, isDir: false };
    const page = await this.call(() => this.container.listBlobsFlat({ prefix: this.dirPrefix(path) }).byPage({ maxPageSize: 1 }).next());
    const first = page.done ? undefined : page.value.segment.blobItems[0];
    if (!first) throw new PathNotFoundError(NAME, path);
    return { path, size: 0, modTime: first.properties.lastModified ?? new Date(), isDir: true };
  }

  list(path: string): Promise<string[]> {
    return listFromChildren(NAME, path, this.listChildren(path));
  }

  async move(sourcePath: string, destPath: string): Promise<void> {
    const info = await this.props(sourcePath);
    if (!info) throw new PathNotFoundError(NAME, sourcePath);
    if (sourcePath === destPath) return;
    const result = await this.call(async () => (await this.blob(destPath).beginCopyFromURL(this.blob(sourcePath).url)).pollUntilDone());
    if (result.copyStatus !== 'success') throw new StorageDriverError(NAME, `${NAME}: copy ${sourcePath} → ${destPath}: ${result.copyStatus}`);
    await this.call(() => this.blob(sourcePath).deleteIfExists());
  }

  async delete(path: string): Promise<void> {
    const keys: string[] = [];
    if (await this.props(path)) keys.push(this.key(path));
    for await (const item of this.pages(this.container.listBlobsFlat({ prefix: this.dirPrefix(path) }))) keys.push(item.name);
    if (keys.length === 0) throw new PathNotFoundError(NAME, path);
    let next = 0;
    await this.call(() => Promise.all(Array.from({ length: Math.min(16, keys.length) }, async () => {
      while (next < keys.length) await this.container.getBlobClient(keys[next++]!).deleteIfExists();
    })));
  }

  async redirectURL(path: string, options: RedirectOptions): Promise<string | undefined> {
    const expiresOn = new Date(Date.now() + (options.expiresIn ?? 20 * 60) * 1000);
    return this.blob(path).generateSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn });
  }

  async *listFiles(path: string): AsyncGenerator<string[]> {
    for await (const page of this.pages(this.container.listBlobsFlat({ prefix: this.dirPrefix(path) }).byPage({ maxPageSize: 1000 }))) {
      yield page.segment.blobItems.map((item) => this.pathOf(item.name)).filter((p) => !p.endsWith('/') && !p.includes('//'));
    }
  }

  async *listChildren(path: string): AsyncGenerator<string[]> {
    const prefix = this.dirPrefix(path);
    for await (const page of this.pages(this.container.listBlobsByHierarchy('/', { prefix }).byPage({ maxPageSize: 1000 }))) {
      const names = [...page.segment.blobPrefixes ?? [], ...page.segment.blobItems].map((item) => item.name.slice(prefix.length));
      yield names.filter((name) => name !== '' && name !== '/').sort();
    }
  }

  async walk(path: string, visit: WalkFn, options: WalkOptions = {}): Promise<void> {
    const entries = new Map<string, FileInfo>();
    const base = path === '/' ? '' : path;
    for await (const item of this.pages(this.container.listBlobsFlat({ prefix: this.dirPrefix(path) }))) {
      const full = this.pathOf(item.name);
      if (!full.startsWith(base + '/') || full.endsWith('/') || full.includes('//')) continue;
      const modTime = item.properties.lastModified ?? new Date(0);
      entries.set(full, { path: full, size: item.properties.contentLength ?? 0, modTime, isDir: false });
      for (let i = full.lastIndexOf('/'); i > base.length; i = full.lastIndexOf('/', i - 1)) {
        const dir = full.slice(0, i);
        const seen = entries.get(dir);
        if (seen?.isDir) {
          if (seen.modTime < modTime) entries.set(dir, { ...seen, modTime });
          continue;
        }
        entries.set(dir, { path: dir, size: 0, modTime, isDir: true });
      }
    }
    if (entries.size === 0) throw new PathNotFoundError(NAME, path);
    const ordered = [...entries.values()].sort((a, b) => compareWalkOrder(a.path, b.path));
    let skipping: string | undefined;
    for (const info of ordered) {
      if (skipping !== undefined && info.path.startsWith(skipping)) continue;
      skipping = undefined;
      if (options.startAfter !== undefined && compareWalkOrder(info.path, options.startAfter) <= 0) continue;
      const result = await visit(info);
      if (result === 'stop') return;
      if (result === 'skip' && info.isDir) skipping = info.path + '/';
    }
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.trim();
}

async function appendAll(client: ReturnType<ContainerClient['getAppendBlobClient']>, data: Buffer): Promise<void> {
  for (let off = 0; off < data.length; off += APPEND_BLOCK) {
    const block = data.subarray(off, Math.min(off + APPEND_BLOCK, data.length));
    await client.appendBlock(block, block.length);
  }
}

/** Buffers up to 4 MiB (an append block) and appends; the blob holds everything once a call returns from close/commit. */
class AzureWriter implements FileWriter {
  private state: 'open' | 'closed' | 'committed' | 'cancelled' = 'open';
  private buffer: Buffer[] = [];
  private buffered = 0;
  private total: number;

  constructor(
    private readonly driver: AzureDriver,
    private readonly path: string,
    existing: number,
  ) {
    this.total = existing;
  }

  get size(): number {
    return this.total;
  }

  private client() {
    return this.driver.container.getAppendBlobClient(this.driver.key(this.path));
  }

  private ensureOpen(): void {
    if (this.state !== 'open') throw new StorageDriverError(NAME, `${NAME}: writer for ${this.path} is ${this.state}`);
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.ensureOpen();
    if (chunk.length === 0) return;
    this.buffer.push(Buffer.from(chunk));
    this.buffered += chunk.length;
    this.total += chunk.length;
    if (this.buffered >= APPEND_BLOCK) await this.flush();
  }

  /** write() keeps a copy, so the chunk is free as soon as it is called. */
  writeBorrowed(chunk: Uint8Array): Promise<void> {
    return this.write(chunk);
  }

  private async flush(): Promise<void> {
    if (this.buffered === 0) return;
    const data = Buffer.concat(this.buffer, this.buffered);
    this.buffer = [];
    this.buffered = 0;
    await this.driver.call(() => appendAll(this.client(), data));
  }

  async close(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'closed';
    await this.flush();
  }

  async commit(): Promise<void> {
    this.ensureOpen();
    this.state = 'committed';
    await this.flush();
  }

  async cancel(): Promise<void> {
    if (this.state === 'cancelled') return;
    if (this.state === 'committed') throw new StorageDriverError(NAME, `${NAME}: writer for ${this.path} is committed`);
    this.state = 'cancelled';
    this.buffer = [];
    this.buffered = 0;
    await this.driver.call(() => this.client().deleteIfExists());
  }
}
