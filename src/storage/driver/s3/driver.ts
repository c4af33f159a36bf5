import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type ObjectCannedACL,
  type ListObjectsV2CommandInput,
  type PutObjectCommandInput,
  type StorageClass,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { IdleRelease } from '../../../reclaim.js';
import { isValidPath } from '../base.js';
import { InvalidOffsetError, PathNotFoundError, StorageDriverError, StorageUnavailableError } from '../errors.js';
import type { DeleteOptions, FileInfo, FileWriter, MoveOptions, PendingWrite, RandomAccessFile, RedirectOptions, StorageDriver, WalkFn, WalkOptions, WriterOptions } from '../types.js';
import { compareWalkOrder, listFromChildren } from '../walk.js';
import { answerError, DirectS3 } from './direct.js';
import type { ObjectGet } from './plain-http.js';
import { listPage, readListPage, type ListPage, type ListedObject } from './list-page.js';
import { endpointUrl, MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE, parseS3Params, type S3Params } from './params.js';

/**
 * The `s3` driver: Distribution's layout in an S3 bucket (AWS, or any S3-compatible server).
 * Driver path P is the key `rootdirectory + P` without its leading slash, so a bucket written by
 * Distribution's s3 driver is read as it is, and back. Directories are implicit (key prefixes).
 * Writers, moves, deletes and the walk are described where they are implemented below; deployment
 * settings and bucket permissions in docs/deployment.md, the RGW used by the tests in scripts/s3/.
 */

const NAME = 's3';

type PutOptions = Pick<PutObjectCommandInput, 'ContentType' | 'ACL' | 'StorageClass' | 'ServerSideEncryption' | 'SSEKMSKeyId'>;

export function createS3Driver(parameters: Record<string, unknown>): StorageDriver {
  return new S3Driver(parseS3Params(parameters));
}

type SdkError = Error & { name: string; Code?: string; $metadata?: { httpStatusCode?: number } };

function statusOf(err: unknown): number | undefined {
  return (err as SdkError | undefined)?.$metadata?.httpStatusCode;
}

/** A missing key (not a missing bucket, which is a configuration problem and must not look like "absent"). */
function isNotFound(err: unknown): boolean {
  const e = err as SdkError | undefined;
  if (!e || typeof e !== 'object') return false;
  if (e.name === 'NoSuchBucket' || e.Code === 'NoSuchBucket') return false;
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || statusOf(err) === 404;
}

/** Tries of each S3 call, through the SDK or past it. */
const MAX_ATTEMPTS = 3;

/** S3's largest listing page. */
const MAX_KEYS = 1000;

/**
 * The first page of a listing read page by page (listFiles, listChildren), whose first names
 * answer requests early (a catalog or tag page, src/storage/listing/early-pages.ts): Ceph RGW
 * answers 400 keys in about the time of 100 (~25 ms), and 1000 in nearly twice that.
 */
const FIRST_PAGE_KEYS = 400;

export class S3Driver implements StorageDriver {
  readonly name = NAME;
  readonly client: S3Client;
  private readonly agents: Array<http.Agent | https.Agent>;
  /**
   * The small calls and downloads past the SDK, for a plain-HTTP path-style endpoint (direct.ts);
   * else none, and every call goes through the SDK.
   */
  private readonly direct: DirectS3 | undefined;
  readonly openRead?: (path: string, from?: number) => Promise<RandomAccessFile>;

  constructor(readonly params: S3Params) {
    const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 256 });
    const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 256, rejectUnauthorized: !params.skipverify });
    this.agents = [httpAgent, httpsAgent];
    const config: S3ClientConfig = {
      region: params.region,
      forcePathStyle: params.forcepathstyle,
      useDualstackEndpoint: params.usedualstack,
      useAccelerateEndpoint: params.accelerate,
      // Flexible checksums (CRC32 trailers with aws-chunked bodies) are not understood by many
      // S3-compatible servers (Ceph RGW 16 answers 411); Content-MD5/ETag integrity is enough.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: MAX_ATTEMPTS,
      // requesttimeout bounds each attempt from its start (a queued socket included) to the
      // response's headers, and a body that stops flowing for as long; the SDK only warns on a
      // request timeout unless told to throw, which left a silent store holding requests forever.
      // A store that does not answer is then a 503 within maxAttempts × requesttimeout plus the
      // SDK's backoff (docs/operations.md, "Failure modes").
      requestHandler: {
        httpAgent,
        httpsAgent,
        connectionTimeout: 10_000,
        ...(params.requesttimeout > 0 ? { requestTimeout: params.requesttimeout, socketTimeout: params.requesttimeout, throwOnRequestTimeout: true } : {}),
      },
    };
    const endpoint = endpointUrl(params);
    if (endpoint) config.endpoint = endpoint;
    if (params.accesskey && params.secretkey) {
      config.credentials = {
        accessKeyId: params.accesskey,
        secretAccessKey: params.secretkey,
        ...(params.sessiontoken ? { sessionToken: params.sessiontoken } : {}),
      };
    }
    if (params.useragent) config.customUserAgent = params.useragent;
    this.client = new S3Client(config);
    if (endpoint && /^http:/i.test(endpoint) && params.forcepathstyle) {
      const client = this.client;
      this.direct = new DirectS3({
        endpoint: new URL(endpoint),
        region: params.region,
        bucket: params.bucket,
        timeoutMs: params.requesttimeout,
        maxAttempts: MAX_ATTEMPTS,
        ...(params.useragent ? { userAgent: params.useragent } : {}),
        credentials: () => client.config.credentials(),
      });
      this.openRead = async (path, from) => (await this.openObject(path, from ?? 0))!;
    }
  }

  /** The object key of a driver path. */
  key(path: string): string {
    const root = this.params.rootdirectory;
    return root ? root + path : path.slice(1);
  }

  objectKey(path: string): string {
    return this.key(path);
  }

  /** The key prefix of everything below a directory path ("" or "root/" for "/"). */
  dirPrefix(path: string): string {
    if (path === '/') return this.params.rootdirectory ? this.params.rootdirectory + '/' : '';
    return this.key(path) + '/';
  }

  private pathOf(key: string): string {
    const root = this.params.rootdirectory;
    return root ? key.slice(root.length) : '/' + key;
  }

  /** Options every new object gets: ACL, storage class, server-side encryption, content type. */
  putOptions(): PutOptions {
    const o: PutOptions = { ContentType: 'application/octet-stream', ACL: this.params.objectacl as ObjectCannedACL };
    if (this.params.storageclass) o.StorageClass = this.params.storageclass as StorageClass;
    if (this.params.encrypt) {
      o.ServerSideEncryption = this.params.keyid ? 'aws:kms' : 'AES256';
      if (this.params.keyid) o.SSEKMSKeyId = this.params.keyid;
    }
    return o;
  }

  /** The headers PutObject's options are sent as past the SDK. */
  putHeaders(): Record<string, string> {
    const o = this.putOptions();
    const h: Record<string, string> = { 'content-type': o.ContentType!, 'x-amz-acl': o.ACL! };
    if (o.StorageClass) h['x-amz-storage-class'] = o.StorageClass;
    if (o.ServerSideEncryption) h['x-amz-server-side-encryption'] = o.ServerSideEncryption;
    if (o.SSEKMSKeyId) h['x-amz-server-side-encryption-aws-kms-key-id'] = o.SSEKMSKeyId;
    return h;
  }

  async head(path: string): Promise<{ size: number; modTime: Date } | undefined> {
    if (this.direct) {
      const key = this.key(path);
      const answer = await this.direct.expect({ method: 'HEAD', key }, `HEAD ${key}`, [404]);
      if (answer.status === 404) return undefined;
      const modified = new Date(answer.headers.get('last-modified') ?? 0);
      return { size: Number(answer.headers.get('content-length') ?? 0), modTime: Number.isNaN(modified.getTime()) ? new Date(0) : modified };
    }
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.params.bucket, Key: this.key(path) }));
      return { size: r.ContentLength ?? 0, modTime: r.LastModified ?? new Date(0) };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async getContent(path: string): Promise<Buffer> {
    if (this.direct) {
      const key = this.key(path);
      const answer = await this.direct.send({ method: 'GET', key });
      if (answer.status === 200) return answer.body;
      const err = answerError(answer, `GET ${key}`);
      if (isNotFound(err)) throw new PathNotFoundError(NAME, path);
      throw err;
    }
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.params.bucket, Key: this.key(path) }));
      return Buffer.from(await r.Body!.transformToByteArray());
    } catch (err) {
      if (isNotFound(err)) throw new PathNotFoundError(NAME, path);
      throw err;
    }
  }

  async putContent(path: string, content: Uint8Array): Promise<void> {
    await this.putObject(path, Buffer.from(content.buffer, content.byteOffset, content.byteLength));
  }

  /** One PutObject of a whole body. */
  async putObject(path: string, body: Buffer): Promise<void> {
    const key = this.key(path);
    if (this.direct) {
      await this.direct.expect({ method: 'PUT', key, headers: this.putHeaders(), body }, `PUT ${key}`);
      return;
    }
    await this.client.send(new PutObjectCommand({ Bucket: this.params.bucket, Key: key, Body: body, ...this.putOptions() }));
  }

  /** DeleteObject (S3 answers the same whether or not the key was there). */
  deleteObject(path: string): Promise<void> {
    return this.deleteKey(this.key(path));
  }

  private async deleteKey(key: string): Promise<void> {
    if (this.direct) {
      await this.direct.expect({ method: 'DELETE', key }, `DELETE ${key}`);
      return;
    }
    await this.client.send(new DeleteObjectCommand({ Bucket: this.params.bucket, Key: key }));
  }

  /** One ListObjectsV2 page, past the SDK where it can be (a page list-page.ts cannot read goes through the SDK). */
  private async listPage(input: ListObjectsV2CommandInput): Promise<ListPage> {
    if (this.direct) {
      const query = {
        'list-type': '2',
        prefix: input.Prefix,
        delimiter: input.Delimiter,
        'max-keys': input.MaxKeys === undefined ? undefined : String(input.MaxKeys),
        'continuation-token': input.ContinuationToken,
        'start-after': input.StartAfter,
      };
      const answer = await this.direct.expect({ method: 'GET', key: '', query }, `list ${input.Prefix ?? ''}`);
      const page = readListPage(answer.body.toString('utf8'));
      if (page) return page;
    }
    return listPage(this.client, input);
  }

  async reader(path: string, offset = 0, length?: number): Promise<Readable> {
    if (length === 0) {
      const info = await this.head(path);
      if (!info) throw new PathNotFoundError(NAME, path);
      if (offset > info.size) throw new InvalidOffsetError(NAME, path, offset);
      return Readable.from([]);
    }
    if (this.direct && length === undefined) {
      const file = await this.openObject(path, offset, { endIsEmpty: true });
      return Readable.from(file ? chunksOf(file, offset) : []);
    }
    const range = offset === 0 && length === undefined ? undefined : `bytes=${offset}-${length === undefined ? '' : offset + length - 1}`;
    try {
      const r = await this.client.send(
        new GetObjectCommand({ Bucket: this.params.bucket, Key: this.key(path), ...(range ? { Range: range } : {}) }),
      );
      return r.Body as Readable;
    } catch (err) {
      if (isNotFound(err)) throw new PathNotFoundError(NAME, path);
      if (statusOf(err) === 416) {
        // Offset at or past the end: at the end is an empty read, past it an error.
        const info = await this.head(path);
        if (!info) throw new PathNotFoundError(NAME, path);
        if (offset === info.size) return Readable.from([]);
        throw new InvalidOffsetError(NAME, path, offset);
      }
      throw err;
    }
  }

  /**
   * A GET from `from`, read past the SDK (plain-http.ts); what any other answer means, a HEAD
   * tells. With `endIsEmpty` (reader), `from` at the end of the object is nothing to read
   * (undefined) rather than an invalid offset.
   */
  private async openObject(path: string, from: number, { endIsEmpty = false } = {}): Promise<ObjectGet | undefined> {
    const get = await this.direct!.openGet(this.key(path), from);
    if (get.status === 200 || get.status === 206) return get;
    const info = await this.head(path);
    if (!info) throw new PathNotFoundError(NAME, path);
    if (endIsEmpty && from === info.size) return undefined;
    if (from >= info.size && from > 0) throw new InvalidOffsetError(NAME, path, from);
    const message = `${NAME}: GET of ${path} answered ${get.status}`;
    throw get.status >= 500 ? new StorageUnavailableError(NAME, message) : new StorageDriverError(NAME, message);
  }

  /**
   * A writer whose content shows at path only once committed (StorageDriver.stagedWriter): parts
   * of a multipart upload at path's own key, completed by commit() (a file under chunksize is one
   * PutObject at commit instead); cancel() and close() abort the upload and leave path as it
   * was. A process killed before commit leaves a pending upload at the key, which S3 keeps out of
   * every read and listing of objects; the upload purger aborts it (src/storage/purge.ts).
   */
  async stagedWriter(path: string): Promise<FileWriter> {
    return new S3Writer(this, path, { from: 'staged' });
  }

  async writer(path: string, { append = false }: WriterOptions = {}): Promise<FileWriter> {
    if (!append) return new S3Writer(this, path, { from: 'new' });
    const info = await this.head(path);
    if (info) return new S3Writer(this, path, { from: 'object', size: info.size });
    const kept = await this.keptUpload(path);
    if (!kept) throw new PathNotFoundError(NAME, path);
    if (kept.parts.at(-1)!.Size! < MIN_PART_SIZE) {
      // A part under S3's minimum may only be last: finish the upload as an object and continue that.
      await this.complete(path, kept.uploadId, kept.parts.map(({ PartNumber, ETag }) => ({ PartNumber, ETag })));
      return new S3Writer(this, path, { from: 'object', size: kept.size });
    }
    return new S3Writer(this, path, { from: 'kept', ...kept });
  }

  /**
   * The multipart upload a suspended writer left at path (see S3Writer), when no object is there:
   * the newest one at that exact key that holds parts, with its parts in order and their total.
   */
  private async keptUpload(path: string): Promise<KeptUpload | undefined> {
    const key = this.key(path);
    const uploads = (await this.uploadsAt(path)).filter((u) => u.key === key).sort((a, b) => b.initiated.getTime() - a.initiated.getTime());
    for (const { uploadId } of uploads) {
      const parts = await this.listParts(key, uploadId);
      if (parts.length > 0) return { uploadId, parts, size: parts.reduce((n, p) => n + p.Size!, 0) };
    }
    return undefined;
  }

  private async listParts(key: string, uploadId: string): Promise<KeptPart[]> {
    const parts: KeptPart[] = [];
    let marker: string | undefined;
    for (;;) {
      if (this.direct) {
        const page = await this.direct.listParts(key, uploadId, marker);
        parts.push(...page.parts);
        if (!page.truncated || !page.next) return parts.sort((a, b) => a.PartNumber - b.PartNumber);
        marker = page.next;
        continue;
      }
      const r = await this.client.send(
        new ListPartsCommand({ Bucket: this.params.bucket, Key: key, UploadId: uploadId, MaxParts: 1000, ...(marker ? { PartNumberMarker: marker } : {}) }),
      );
      for (const p of r.Parts ?? []) {
        if (p.PartNumber !== undefined && p.ETag !== undefined && p.Size !== undefined) parts.push({ PartNumber: p.PartNumber, ETag: p.ETag, Size: p.Size });
      }
      if (!r.IsTruncated || !r.NextPartNumberMarker) return parts.sort((a, b) => a.PartNumber - b.PartNumber);
      marker = r.NextPartNumberMarker;
    }
  }

  async stat(path: string): Promise<FileInfo> {
    if (path === '/') return { path, size: 0, modTime: new Date(), isDir: true };
    const info = await this.head(path);
    if (info) return { path, size: info.size, modTime: info.modTime, isDir: false };
    const r = await this.listPage({ Bucket: this.params.bucket, Prefix: this.dirPrefix(path), MaxKeys: 1 });
    if (!r.objects.length) throw new PathNotFoundError(NAME, path);
    return { path, size: 0, modTime: r.objects[0]!.modified ?? new Date(), isDir: true };
  }

  /** stat of a file alone: the HEAD, without the listing that would find a directory. */
  async statFile(path: string): Promise<FileInfo> {
    const info = await this.head(path);
    if (!info) throw new PathNotFoundError(NAME, path);
    return { path, size: info.size, modTime: info.modTime, isDir: false };
  }

  list(path: string): Promise<string[]> {
    return listFromChildren(NAME, path, this.listChildren(path));
  }

  /**
   * Every object below a directory path (flat listing, pages of up to 1000 after a first of
   * `firstPageKeys`, empty pages left out). `skip` (listFiles) may name a path to go on after,
   * instead of the next page in order.
   */
  async *objectsUnder(path: string, skip?: (lastPath: string) => string | undefined, firstPageKeys = MAX_KEYS): AsyncGenerator<ListedObject[]> {
    const prefix = this.dirPrefix(path);
    let token: string | undefined;
    let startAfter: string | undefined;
    for (let maxKeys = firstPageKeys; ; maxKeys = MAX_KEYS) {
      const r = await this.listPage({
        Bucket: this.params.bucket,
        Prefix: prefix,
        MaxKeys: maxKeys,
        ...(token ? { ContinuationToken: token } : startAfter ? { StartAfter: startAfter } : {}),
      });
      const objects = r.objects;
      if (objects.length > 0) yield objects;
      if (!r.truncated) return;
      const lastKey = objects[objects.length - 1]?.key;
      const resumeAfter = lastKey === undefined ? undefined : skip?.(this.pathOf(lastKey));
      if (resumeAfter !== undefined && this.key(resumeAfter) > lastKey!) {
        token = undefined;
        startAfter = this.key(resumeAfter);
      } else {
        token = r.nextToken;
      }
    }
  }

  async *listFiles(path: string, skip?: (lastPath: string) => string | undefined): AsyncGenerator<string[]> {
    for await (const page of this.objectsUnder(path, skip, FIRST_PAGE_KEYS)) {
      yield page.map((o) => this.pathOf(o.key)).filter((p) => !p.endsWith('/') && !p.includes('//'));
    }
  }

  async *listChildren(path: string, after?: string): AsyncGenerator<string[]> {
    const prefix = this.dirPrefix(path);
    let token: string | undefined;
    const start = after ? { StartAfter: prefix + after } : {};
    let maxKeys = FIRST_PAGE_KEYS;
    do {
      const r = await this.listPage({ Bucket: this.params.bucket, Prefix: prefix, Delimiter: '/', MaxKeys: maxKeys, ...(token ? { ContinuationToken: token } : start) });
      maxKeys = MAX_KEYS;
      const names = [...r.prefixes, ...r.objects.map((o) => o.key)]
        .map((key) => key.slice(prefix.length))
        .filter((name) => name !== '' && name !== '/');
      yield names.sort();
      token = r.truncated ? r.nextToken : undefined;
    } while (token);
  }

  /** A copy and a delete; the source's size (to choose the kind of copy) from the caller or a HEAD. */
  async move(sourcePath: string, destPath: string, options: MoveOptions = {}): Promise<void> {
    let size = sourcePath === destPath ? undefined : options.size;
    if (size === undefined) {
      const info = await this.head(sourcePath);
      if (!info) throw new PathNotFoundError(NAME, sourcePath);
      if (sourcePath === destPath) return;
      size = info.size;
    }
    try {
      await this.copy(sourcePath, destPath, size);
    } catch (err) {
      // Without a HEAD first, a missing source is the copy's 404.
      if (isNotFound(err)) throw new PathNotFoundError(NAME, sourcePath);
      throw err;
    }
    await this.deleteObject(sourcePath);
  }

  /** Server-side copy: one CopyObject up to the threshold, a multipart copy above it. */
  async copy(sourcePath: string, destPath: string, size: number): Promise<void> {
    const source = `${this.params.bucket}/${encodeKey(this.key(sourcePath))}`;
    if (size <= this.params.multipartcopythresholdsize && size <= MAX_PART_SIZE) {
      if (this.direct) {
        const key = this.key(destPath);
        const headers = { ...this.putHeaders(), 'x-amz-copy-source': '/' + source, 'x-amz-metadata-directive': 'REPLACE' };
        await this.direct.expect({ method: 'PUT', key, headers, errorIn200: true }, `copy to ${key}`);
        return;
      }
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.params.bucket,
          Key: this.key(destPath),
          CopySource: source,
          MetadataDirective: 'REPLACE',
          ...this.putOptions(),
        }),
      );
      return;
    }
    const uploadId = await this.createUpload(this.key(destPath));
    try {
      const parts = await this.copyParts(source, destPath, uploadId, size, 0, this.params.multipartcopychunksize);
      await this.complete(destPath, uploadId, parts);
    } catch (err) {
      await this.abort(destPath, uploadId);
      throw err;
    }
  }

  /**
   * Copies bytes [0, size) of `source` into parts firstPart+1… of an upload, `chunk` bytes each
   * (the last piece joins the one before it when it would be under S3's 5 MiB minimum), at most
   * multipartcopymaxconcurrency at a time.
   */
  async copyParts(source: string, destPath: string, uploadId: string, size: number, firstPart: number, chunk: number): Promise<CompletedPart[]> {
    let count = Math.max(1, Math.floor(size / chunk));
    if (count > MAX_PARTS) throw new StorageDriverError(NAME, `${NAME}: ${size} bytes need more than ${MAX_PARTS} parts; raise multipartcopychunksize`);
    const ranges: Array<[number, number]> = [];
    for (let i = 0; i < count; i++) ranges.push([i * chunk, i === count - 1 ? size - 1 : (i + 1) * chunk - 1]);
    if (ranges.at(-1)![1] - ranges.at(-1)![0] + 1 > MAX_PART_SIZE) {
      count += 1;
      const [s, e] = ranges.pop()!;
      const mid = s + Math.floor((e - s + 1) / 2);
      ranges.push([s, mid - 1], [mid, e]);
    }
    const parts: CompletedPart[] = new Array(ranges.length);
    let next = 0;
    const worker = async () => {
      while (next < ranges.length) {
        const i = next++;
        const [start, end] = ranges[i]!;
        if (this.direct) {
          parts[i] = { PartNumber: firstPart + i + 1, ETag: await this.direct.uploadPartCopy(this.key(destPath), uploadId, firstPart + i + 1, source, `bytes=${start}-${end}`) };
          continue;
        }
        const r = await this.client.send(
          new UploadPartCopyCommand({
            Bucket: this.params.bucket,
            Key: this.key(destPath),
            UploadId: uploadId,
            PartNumber: firstPart + i + 1,
            CopySource: source,
            CopySourceRange: `bytes=${start}-${end}`,
          }),
        );
        parts[i] = { PartNumber: firstPart + i + 1, ETag: r.CopyPartResult?.ETag ?? '' };
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.params.multipartcopymaxconcurrency, ranges.length) }, worker));
    return parts;
  }

  /** CreateMultipartUpload at `key` with the options every new object gets: its UploadId. */
  async createUpload(key: string): Promise<string> {
    if (this.direct) return this.direct.createUpload(key, this.putHeaders());
    const r = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.params.bucket, Key: key, ...this.putOptions() }));
    return r.UploadId!;
  }

  /** UploadPart of `body`: its ETag. */
  async uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer): Promise<string> {
    if (this.direct) return this.direct.uploadPart(key, uploadId, partNumber, body);
    const r = await this.client.send(new UploadPartCommand({ Bucket: this.params.bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: body }));
    return r.ETag!;
  }

  async complete(path: string, uploadId: string, parts: CompletedPart[]): Promise<void> {
    // Ceph RGW 16 answers with an empty <ETag>; nothing here relies on it.
    if (this.direct) return this.direct.completeUpload(this.key(path), uploadId, parts);
    await this.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.params.bucket,
        Key: this.key(path),
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
  }

  async abort(path: string, uploadId: string): Promise<void> {
    if (this.direct) return this.direct.abortUpload(this.key(path), uploadId).catch(() => undefined);
    await this.client
      .send(new AbortMultipartUploadCommand({ Bucket: this.params.bucket, Key: this.key(path), UploadId: uploadId }))
      .catch(() => undefined);
  }

  /**
   * Deletes the object at path and every object below it, and aborts the multipart uploads in
   * progress for those keys (a process killed mid-write leaves them; they are not objects, so
   * deleting objects alone would leave their parts stored). PathNotFoundError when no object was
   * there, after aborting any such uploads all the same. With `pendingWrites: false` the caller
   * left no upload there (its writers all finished), and they are not listed.
   */
  async delete(path: string, { pendingWrites = true }: DeleteOptions = {}): Promise<void> {
    const [file, below, pending] = await Promise.all([this.head(path), this.allKeysUnder(path), pendingWrites ? this.uploadsAt(path) : []]);
    const keys = file ? [this.key(path), ...below] : below;
    await Promise.all([this.deleteKeys(keys), this.abortUploads(pending)]);
    if (keys.length === 0) throw new PathNotFoundError(NAME, path);
  }

  /**
   * Multipart uploads in progress whose key is path's own or below `path/` (one prefix listing,
   * paged by key and upload id markers; an upload for "a/bc" is not one of "a/b").
   */
  async uploadsAt(path: string): Promise<Array<{ key: string; uploadId: string; initiated: Date }>> {
    const exact = path === '/' ? undefined : this.key(path);
    const below = this.dirPrefix(path);
    const found: Array<{ key: string; uploadId: string; initiated: Date }> = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      if (this.direct) {
        const page = await this.direct.listUploads(exact ?? below, keyMarker, uploadIdMarker);
        for (const u of page.uploads) if (u.key && u.uploadId && (u.key === exact || u.key.startsWith(below))) found.push(u);
        if (!page.truncated) return found;
        if (!page.nextKeyMarker) throw new StorageDriverError(NAME, `${NAME}: multipart upload listing of ${path} is truncated without a next marker`);
        keyMarker = page.nextKeyMarker;
        uploadIdMarker = page.nextUploadIdMarker;
        continue;
      }
      const r = await this.client.send(
        new ListMultipartUploadsCommand({
          Bucket: this.params.bucket,
          Prefix: exact ?? below,
          MaxUploads: 1000,
          ...(keyMarker !== undefined ? { KeyMarker: keyMarker } : {}),
          ...(uploadIdMarker !== undefined ? { UploadIdMarker: uploadIdMarker } : {}),
        }),
      );
      for (const u of r.Uploads ?? []) {
        if (!u.Key || !u.UploadId) continue;
        if (u.Key !== exact && !u.Key.startsWith(below)) continue;
        found.push({ key: u.Key, uploadId: u.UploadId, initiated: u.Initiated ?? new Date(0) });
      }
      if (!r.IsTruncated) return found;
      if (!r.NextKeyMarker) throw new StorageDriverError(NAME, `${NAME}: multipart upload listing of ${path} is truncated without a next marker`);
      keyMarker = r.NextKeyMarker;
      uploadIdMarker = r.NextUploadIdMarker;
    }
  }

  /** AbortMultipartUpload for each, four at a time; an upload already gone (NoSuchUpload) is fine. */
  async abortUploads(uploads: Array<{ key: string; uploadId: string }>): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < uploads.length) {
        const { key, uploadId } = uploads[next++]!;
        if (this.direct) {
          await this.direct.abortUpload(key, uploadId);
          continue;
        }
        await this.client
          .send(new AbortMultipartUploadCommand({ Bucket: this.params.bucket, Key: key, UploadId: uploadId }))
          .catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)));
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, uploads.length) }, worker));
  }

  /**
   * Pending writes are multipart uploads in progress. Their keys are driver paths unless written
   * by something else (a key ending in "/" or holding "//"): those are left out here, though
   * delete() of a folder above them still aborts them.
   */
  async listPendingWrites(path: string): Promise<PendingWrite[]> {
    const writes: PendingWrite[] = [];
    for (const u of await this.uploadsAt(path)) {
      const p = this.pathOf(u.key);
      if (isValidPath(p)) writes.push({ path: p, id: u.uploadId, started: u.initiated });
    }
    return writes;
  }

  async abortPendingWrite(write: PendingWrite): Promise<void> {
    await this.abortUploads([{ key: this.key(write.path), uploadId: write.id }]);
  }

  private async allKeysUnder(path: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const page of this.objectsUnder(path)) for (const o of page) keys.push(o.key);
    return keys;
  }

  /** DeleteObjects in batches of 1000 (S3's limit), four batches at a time; one key is one DeleteObject. */
  async deleteKeys(keys: string[]): Promise<void> {
    if (keys.length === 1) return this.deleteKey(keys[0]!);
    const batches: string[][] = [];
    for (let i = 0; i < keys.length; i += 1000) batches.push(keys.slice(i, i + 1000));
    let next = 0;
    const worker = async () => {
      while (next < batches.length) {
        const batch = batches[next++]!;
        if (this.direct) {
          const failed = (await this.direct.deleteMany(batch)).filter((e) => e.code !== 'NoSuchKey');
          if (failed.length) throw new StorageDriverError(NAME, `${NAME}: delete failed for ${failed.length} keys, first ${failed[0]!.key}: ${failed[0]!.code} ${failed[0]!.message}`);
          continue;
        }
        const r = await this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.params.bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
        );
        const failed = (r.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
        if (failed.length) {
          throw new StorageDriverError(NAME, `${NAME}: delete failed for ${failed.length} keys, first ${failed[0]!.Key}: ${failed[0]!.Code} ${failed[0]!.Message ?? ''}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, batches.length) }, worker));
  }

  async redirectURL(path: string, options: RedirectOptions): Promise<string | undefined> {
    if (this.direct) return this.direct.presign(options.method, this.key(path), options.expiresIn ?? this.params.redirectexpiry);
    const input = { Bucket: this.params.bucket, Key: this.key(path) };
    const command = options.method === 'HEAD' ? new HeadObjectCommand(input) : new GetObjectCommand(input);
    return getSignedUrl(this.client, command, { expiresIn: options.expiresIn ?? this.params.redirectexpiry });
  }

  /**
   * One flat listing of everything below path (a request per 1000 objects, instead of one per
   * directory), directories derived from the keys, then visited in walk order. Holds the paths
   * below `path` in memory while visiting.
   */
  async walk(path: string, visit: WalkFn, options: WalkOptions = {}): Promise<void> {
    const entries = new Map<string, FileInfo>();
    const base = path === '/' ? '' : path;
    for await (const page of this.objectsUnder(path)) {
      for (const o of page) {
        const full = this.pathOf(o.key);
        if (!full.startsWith(base + '/') || full.endsWith('/') || full.includes('//')) continue;
        const modTime = o.modified ?? new Date(0);
        entries.set(full, { path: full, size: o.size, modTime, isDir: false });
        // Each ancestor below `path` is a directory; its modTime is its newest object's.
        for (let i = full.lastIndexOf('/'); i > base.length; i = full.lastIndexOf('/', i - 1)) {
          const dir = full.slice(0, i);
          const seen = entries.get(dir);
          if (seen && seen.isDir) {
            if (seen.modTime < modTime) entries.set(dir, { ...seen, modTime });
            continue;
          }
          entries.set(dir, { path: dir, size: 0, modTime, isDir: true });
        }
      }
    }
    if (entries.size === 0) throw new PathNotFoundError(NAME, path);
    const ordered = [...entries.values()].sort((a, b) => compareWalkOrder(a.path, b.path));
    const startAfter = options.startAfter;
    let skipping: string | undefined;
    for (const info of ordered) {
      if (skipping !== undefined && info.path.startsWith(skipping)) continue;
      skipping = undefined;
      if (startAfter !== undefined && compareWalkOrder(info.path, startAfter) <= 0) continue;
      const result = await visit(info);
      if (result === 'stop') return;
      if (result === 'skip' && info.isDir) skipping = info.path + '/';
    }
  }

  async close(): Promise<void> {
    this.direct?.close();
    this.client.destroy();
    for (const a of this.agents) a.destroy();
  }
}

/** A GET's body from `from` as a stream's chunks (reader past the SDK); the GET is closed however the stream ends. */
async function* chunksOf(file: ObjectGet, from: number): AsyncGenerator<Buffer> {
  try {
    for (let at = from; at < file.size; ) {
      const buffer = Buffer.allocUnsafe(Math.min(READER_CHUNK, file.size - at));
      const n = await file.read(buffer, buffer.length, at);
      if (n === 0) throw new StorageDriverError(NAME, `${NAME}: GET ended ${file.size - at} bytes early`);
      at += n;
      yield n === buffer.length ? buffer : buffer.subarray(0, n);
    }
  } finally {
    await file.close();
  }
}

/** Bytes per chunk of a reader's stream past the SDK (the SDK's stream gives 64 KiB). */
const READER_CHUNK = 256 * 1024;

/** A key in a CopySource header: URL-encoded, slashes kept. */
function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

interface KeptPart {
  PartNumber: number;
  ETag: string;
  Size: number;
}

interface KeptUpload {
  uploadId: string;
  parts: KeptPart[];
  size: number;
}

/**
 * Part buffers (chunksize bytes each) kept between writers: a fresh 10 MiB buffer per part cost
 * page faults on first touch and garbage collections, about a fifth of a push's CPU on S3
 * (docs/performance.md). At most PART_POOL_LIMIT of each size are kept, let go after a quiet while.
 */
const partPool = new Map<number, Buffer[]>();
const PART_POOL_LIMIT = 4;
const PART_POOL_IDLE_MS = 2000;
const partPoolIdle = new IdleRelease([{ afterMs: PART_POOL_IDLE_MS, run: () => partPool.clear() }]);

function takePartBuffer(size: number): Buffer {
  return partPool.get(size)?.pop() ?? Buffer.allocUnsafeSlow(size);
}

/** Gives back a part buffer (or a view of one) once no request holds it; other buffers are left alone. */
function givePartBuffer(view: Buffer | undefined, size: number): void {
  if (!view || view.byteOffset !== 0 || view.buffer.byteLength !== size) return;
  const kept = partPool.get(size) ?? [];
  if (kept.length >= PART_POOL_LIMIT) return;
  kept.push(Buffer.from(view.buffer));
  partPool.set(size, kept);
  partPoolIdle.touch();
}

/**
 * Where a writer's content begins: nothing, the object at its path, or a kept multipart upload;
 * or nothing, for a staged writer (its content shows at path only through commit).
 */
type WriterStart = { from: 'new' } | { from: 'staged' } | { from: 'object'; size: number } | ({ from: 'kept' } & KeptUpload);

/**
 * A writer: buffers up to `chunksize` and sends each full buffer as a part of a multipart upload
 * (one part in flight while the next fills). close() and commit() both complete the upload, so
 * what was written is an ordinary object at path that any instance can read or continue.
 * A file smaller than chunksize is sent with one PutObject instead.
 *
 * Continuing (append) an object:
 * - under 5 MiB (too small to be a part), it is read back (at the first write) and continues in
 *   the buffer;
 * - from 5 MiB, a new multipart upload starts whose first parts are server-side copies of the
 *   existing object (UploadPartCopy), made only once something is written: an append writer
 *   that is closed or committed without writing leaves the object as it is.
 *
 * suspend() keeps the multipart upload instead of completing it, as Distribution's writer does
 * between an upload's chunks, so the next append sends only its own bytes where continuing an
 * object copies all of it again. The upload is then the file: suspend sends the buffer as the
 * last part (a tail under 5 MiB is joined to this writer's previous part, sent again with it), and
 * only then deletes the object at path, which no longer holds everything. Until that delete the
 * object is what an append continues, so a process killed in between leaves the content as it was
 * before the writer (its upload is left pending, aborted with the folder or by upload purging).
 * Before that delete, other uploads pending at the key (left by killed writers) are aborted.
 * An append at a path with no object continues the newest upload kept there: its size is its
 * parts' total (ListParts); one whose last part is under 5 MiB (a suspended writer that wrote
 * less than that) is completed first and continued as an object. A kept upload is invisible to
 * stat, reader and list (S3 cannot read a pending upload) until a writer commits or closes it.
 */
class S3Writer implements FileWriter {
  private state: 'open' | 'closed' | 'committed' | 'cancelled' = 'open';
  /** The part being filled (chunksize bytes, sent when full) and how much of it is. */
  private fill: Buffer | undefined;
  private filled = 0;
  private uploadId: string | undefined;
  private parts: CompletedPart[] = [];
  /** The last part this writer sent and its bytes, which a small tail joins on suspend(). */
  private lastSent: { index: number; body: Buffer } | undefined;
  private inflight: Promise<void> | undefined;
  private failure: unknown;
  /** Whether the content at path must be (re)written or completed when the writer finishes. */
  private dirty: boolean;
  private wrote = false;
  private total: number;
  /** An existing object under 5 MiB, read back into the buffer at the first write. */
  private prefixPending: boolean;
  /** True while the existing object still has to be copied in as the first parts. */
  private copyPending: boolean;
  /**
   * The writer starts its own upload (it does not continue a kept one): aborting that on failure
   * loses nothing stored before, and suspend() deletes the object at path once the upload holds
   * everything.
   */
  private readonly ownUpload: boolean;
  /** Bytes at path before this writer. */
  private readonly existing: number;
  /** A staged writer (stagedWriter): only commit() changes path; close() discards as cancel() does. */
  private readonly staged: boolean;

  constructor(
    private readonly driver: S3Driver,
    private readonly path: string,
    start: WriterStart,
  ) {
    const size = start.from === 'new' || start.from === 'staged' ? 0 : start.size;
    this.staged = start.from === 'staged';
    this.existing = size;
    this.total = size;
    this.dirty = start.from !== 'object';
    this.prefixPending = start.from === 'object' && size > 0 && size < MIN_PART_SIZE;
    this.copyPending = start.from === 'object' && size >= MIN_PART_SIZE;
    this.ownUpload = start.from !== 'kept';
    if (start.from === 'kept') {
      this.uploadId = start.uploadId;
      this.parts = start.parts.map(({ PartNumber, ETag }) => ({ PartNumber, ETag }));
    }
  }

  get size(): number {
    return this.total;
  }

  private ensureOpen(): void {
    if (this.state !== 'open') throw new StorageDriverError(NAME, `${NAME}: writer for ${this.path} is ${this.state}`);
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.ensureOpen();
    if (this.failure) throw this.failure;
    if (chunk.length === 0) return;
    if (this.prefixPending) {
      this.prefixPending = false;
      await this.append(await this.driver.getContent(this.path));
    }
    this.total += chunk.length;
    this.dirty = true;
    this.wrote = true;
    await this.append(chunk);
  }

  /** write() has copied the chunk into its part buffer when it resolves. */
  writeBorrowed(chunk: Uint8Array): Promise<void> {
    return this.write(chunk);
  }

  /** Copies bytes into the part buffer, sending each part once full (after the one before is stored). */
  private async append(bytes: Uint8Array): Promise<void> {
    const size = this.driver.params.chunksize;
    for (let at = 0; at < bytes.length; ) {
      this.fill ??= takePartBuffer(size);
      const n = Math.min(bytes.length - at, size - this.filled);
      this.fill.set(bytes.subarray(at, at + n), this.filled);
      this.filled += n;
      at += n;
      if (this.filled === size) {
        await this.settle();
        const body = this.take();
        this.inflight = this.sendPart(body).catch((err: unknown) => {
          this.failure = err;
        });
      }
    }
  }

  private take(): Buffer {
    const body = this.fill ? this.fill.subarray(0, this.filled) : Buffer.alloc(0);
    this.fill = undefined;
    this.filled = 0;
    return body;
  }

  private async settle(): Promise<void> {
    if (this.inflight) await this.inflight;
    this.inflight = undefined;
    if (this.failure) throw this.failure;
  }

  private async ensureUpload(): Promise<string> {
    if (this.uploadId) return this.uploadId;
    const d = this.driver;
    this.uploadId = await d.createUpload(d.key(this.path));
    if (this.copyPending) {
      const source = `${d.params.bucket}/${encodeKey(d.key(this.path))}`;
      const chunk = Math.max(d.params.multipartcopychunksize, MIN_PART_SIZE);
      this.parts.push(...(await d.copyParts(source, this.path, this.uploadId, this.existing, 0, chunk)));
      this.copyPending = false;
    }
    return this.uploadId;
  }

  private async sendPart(body: Buffer): Promise<void> {
    const uploadId = await this.ensureUpload();
    const partNumber = (this.parts.at(-1)?.PartNumber ?? 0) + 1;
    if (partNumber > MAX_PARTS) throw new StorageDriverError(NAME, `${NAME}: more than ${MAX_PARTS} parts for ${this.path}; raise chunksize`);
    this.releaseLastSent(); // a part before this one can no longer take a tail
    const index = this.parts.push({ PartNumber: partNumber }) - 1;
    this.parts[index] = { PartNumber: partNumber, ETag: await this.uploadPart(uploadId, partNumber, body) };
    this.lastSent = { index, body };
  }

  /** The last part's bytes are no longer needed: its buffer goes back to the pool. */
  private releaseLastSent(): void {
    givePartBuffer(this.lastSent?.body, this.driver.params.chunksize);
    this.lastSent = undefined;
  }

  private uploadPart(uploadId: string, partNumber: number, body: Buffer): Promise<string> {
    return this.driver.uploadPart(this.driver.key(this.path), uploadId, partNumber, body);
  }

  /** Makes everything written an object at path. */
  private async finish(): Promise<void> {
    await this.settle();
    if (!this.dirty) return;
    const d = this.driver;
    if (!this.uploadId && !this.copyPending) {
      const body = this.take();
      await d.putObject(this.path, body);
      givePartBuffer(body, d.params.chunksize);
      this.dirty = false;
      return;
    }
    if (this.filled > 0 || this.parts.length === 0) await this.sendPart(this.take());
    else await this.ensureUpload();
    await d.complete(this.path, this.uploadId!, this.parts);
    this.releaseLastSent();
    this.uploadId = undefined;
    this.dirty = false;
  }

  /** suspend(): leaves everything written in the kept upload (see the class comment). */
  private async keep(): Promise<void> {
    await this.settle();
    // Small content is cheaper as an object (read back by the next append); so is nothing new.
    if (!this.uploadId && !this.copyPending && this.total < MIN_PART_SIZE) return this.finish();
    if (!this.wrote) return;
    const tail = this.take();
    const last = this.lastSent;
    if (tail.length > 0 && tail.length < MIN_PART_SIZE && last && last.index === this.parts.length - 1 && last.body.length + tail.length <= MAX_PART_SIZE) {
      // Sent again with the tail, the previous part stays at least S3's minimum, so parts can follow.
      const body = Buffer.concat([last.body, tail]);
      const part = this.parts[last.index]!;
      this.parts[last.index] = { PartNumber: part.PartNumber, ETag: await this.uploadPart(this.uploadId!, part.PartNumber!, body) };
      givePartBuffer(tail, this.driver.params.chunksize);
    } else if (tail.length > 0) {
      await this.sendPart(tail);
    } else {
      await this.ensureUpload();
    }
    const d = this.driver;
    if (this.ownUpload) {
      // Uploads a killed writer left at this key go first, so the one kept is the only one there.
      const key = d.key(this.path);
      await d.abortUploads((await d.uploadsAt(this.path)).filter((u) => u.key === key && u.uploadId !== this.uploadId));
      await d.deleteObject(this.path);
    }
    this.releaseLastSent();
    this.uploadId = undefined;
    this.dirty = false;
  }

  /** Aborts an upload this writer started (a kept one holds earlier writers' content and stays). */
  private async discardUpload(): Promise<void> {
    await this.inflight?.catch(() => undefined);
    if (this.uploadId && this.ownUpload) await this.driver.abort(this.path, this.uploadId);
    this.uploadId = undefined;
  }

  async close(): Promise<void> {
    if (this.state !== 'open') return;
    if (this.staged) return this.cancel();
    this.state = 'closed';
    await this.endWith(() => this.finish());
  }

  async suspend(): Promise<void> {
    if (this.staged) throw new StorageDriverError(NAME, `${NAME}: a staged writer for ${this.path} cannot be suspended`);
    if (this.state !== 'open') return;
    this.state = 'closed';
    await this.endWith(() => this.keep());
  }

  async commit(): Promise<void> {
    this.ensureOpen();
    this.state = 'committed';
    await this.endWith(() => this.finish());
  }

  /** Close, suspend and commit: an upload this writer started is aborted when they fail. */
  private async endWith(end: () => Promise<void>): Promise<void> {
    try {
      await end();
    } catch (err) {
      await this.discardUpload();
      throw err;
    }
  }

  async cancel(): Promise<void> {
    if (this.state === 'cancelled') return;
    if (this.state === 'committed') throw new StorageDriverError(NAME, `${NAME}: writer for ${this.path} is committed`);
    this.state = 'cancelled';
    const d = this.driver;
    givePartBuffer(this.take(), d.params.chunksize);
    await this.inflight?.catch(() => undefined);
    this.releaseLastSent();
    if (this.uploadId) await d.abort(this.path, this.uploadId);
    this.uploadId = undefined;
    // A staged writer showed nothing at path: what is there (the same blob, stored by another) stays.
    if (!this.staged) await d.deleteObject(this.path);
  }
}
