import { createHash } from 'node:crypto';
import { textOf } from './list-page.js';
import { PlainHttp, type ObjectGet, type PlainAnswer } from './plain-http.js';
import { canonicalQuery, EMPTY_SHA256, SigV4, uriEncode, type Credentials } from './sigv4.js';

/**
 * The S3 calls a registry makes, sent past the AWS SDK on a plain-HTTP path-style endpoint
 * (plain-http.ts, signed by sigv4.ts): HEAD, GET and PUT of an object, DELETE, a one-request
 * copy, ListObjectsV2 pages, and multipart uploads (create, parts and part copies, complete,
 * abort, their listings) and batch deletes. Each multipart part's body is written to the socket
 * from the writer's own part buffer, as the SDK did, without its per-call machinery (about 2 ms of
 * CPU a call; docs/performance.md, "Small S3 calls"). The S3 driver decides which way each call goes.
 *
 * What the SDK did for those calls is kept: up to `maxAttempts` tries of a call that failed on
 * the way (no answer, a timeout, 5xx, 429), with its exponential backoff between them; answers
 * that are errors become an error shaped as the SDK's (`name` and `Code` from the XML error's
 * Code, `$metadata.httpStatusCode`), so the driver tells a missing key from a missing bucket the
 * same way; a failure to reach the store keeps its Node error code (ECONNREFUSED, ETIMEDOUT, …),
 * which storageFault (../errors.ts) answers 503.
 */

export interface DirectOptions {
  endpoint: URL;
  region: string;
  bucket: string;
  timeoutMs: number;
  maxAttempts: number;
  userAgent?: string;
  /** The SDK client's credentials (static keys, or its provider chain's, refreshed as it refreshes them). */
  credentials: () => Promise<Credentials>;
}

/** An error answer, shaped as the SDK's service exceptions are. */
export class S3AnswerError extends Error {
  readonly Code: string;
  readonly $metadata: { httpStatusCode: number };

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = code;
    this.Code = code;
    this.$metadata = { httpStatusCode: status };
  }
}

/** Codes S3 answers a call to try again later with. */
const RETRY_CODES = new Set(['RequestTimeout', 'RequestTimeTooSkewed', 'SlowDown', 'Throttling', 'ThrottlingException', 'InternalError', 'ServiceUnavailable']);

/** The error of an answer: its XML Code and Message, or for a body-less answer (HEAD) the status's usual name. */
export function answerError(answer: PlainAnswer, what: string): S3AnswerError {
  const xml = answer.body.toString('utf8');
  const code = /<Code>([^<]*)<\/Code>/.exec(xml)?.[1] ?? (answer.status === 404 ? 'NotFound' : answer.status === 403 ? 'Forbidden' : `Http${answer.status}`);
  const message = /<Message>([^<]*)<\/Message>/.exec(xml)?.[1];
  return new S3AnswerError(answer.status, code, `${what}: ${answer.status} ${code}${message ? `: ${message}` : ''}`);
}

/** Failures on the way that another try may not meet (the SDK's transient and timeout codes). */
const RETRY_ERRORS = new Set(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

function transient(answer: PlainAnswer | undefined, err: unknown): boolean {
  if (!answer) return RETRY_ERRORS.has((err as { code?: string } | undefined)?.code ?? '');
  if (answer.status >= 500 || answer.status === 429) return true;
  return answer.status >= 400 && RETRY_CODES.has(/<Code>([^<]*)<\/Code>/.exec(answer.body.toString('utf8'))?.[1] ?? '');
}

export interface DirectRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
  /** The object key; '' for the bucket itself (a listing). */
  key: string;
  query?: Record<string, string | undefined>;
  headers?: Record<string, string>;
  body?: Buffer;
  /**
   * CopyObject answers 200 with an error document when the copy failed after it began: such an
   * answer is an error too.
   */
  errorIn200?: boolean;
}

export class DirectS3 {
  private readonly http: PlainHttp;
  private readonly signer: SigV4;
  private readonly host: string;

  constructor(private readonly options: DirectOptions) {
    this.http = new PlainHttp(options.endpoint, { timeoutMs: options.timeoutMs, userAgent: options.userAgent });
    this.signer = new SigV4(options.region);
    this.host = options.endpoint.host;
  }

  /** Path and query of a request for `key` in the bucket, and its canonical query. */
  private target(key: string, query: Record<string, string | undefined> = {}): { path: string; query: string } {
    const path = `/${uriEncode(this.options.bucket)}${key ? '/' + key.split('/').map(uriEncode).join('/') : ''}`;
    return { path, query: canonicalQuery(query) };
  }

  private async signed(method: string, path: string, query: string, headers: Record<string, string>, body: Buffer | undefined): Promise<Record<string, string>> {
    const h: Record<string, string> = { host: this.host, ...headers };
    const payload = body?.length ? createHash('sha256').update(body).digest('hex') : EMPTY_SHA256;
    this.signer.sign(method, path, query, h, payload, await this.options.credentials());
    return h;
  }

  /**
   * Sends a request, tried again as the SDK would when it fails on the way; resolves its answer
   * whatever its status (callers decide what a 404 means), throws when no answer came.
   */
  async send(req: DirectRequest): Promise<PlainAnswer> {
    const { path, query } = this.target(req.key, req.query);
    const target = query ? `${path}?${query}` : path;
    for (let attempt = 1; ; attempt++) {
      let answer: PlainAnswer | undefined;
      let error: unknown;
      try {
        const headers = await this.signed(req.method, path, query, req.headers ?? {}, req.body);
        answer = await this.http.request({ method: req.method, target, headers, ...(req.body ? { body: req.body } : {}) });
        if (req.errorIn200 && answer.status === 200 && /<Error>/.test(answer.body.toString('utf8'))) {
          // Shaped as the SDK shapes it: an error of the server's, worth another try.
          answer = { ...answer, status: 500 };
        }
      } catch (err) {
        error = err;
      }
      if (attempt >= this.options.maxAttempts || !transient(answer, error)) {
        if (answer) return answer;
        throw error;
      }
      // The SDK's standard retry delay: random up to 100 ms × 2^attempt, at most 20 s.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(20_000, 100 * 2 ** attempt)));
    }
  }

  /** send(), then an error for any answer but 2xx (or a status in `ok`). */
  async expect(req: DirectRequest, what: string, ok: number[] = []): Promise<PlainAnswer> {
    const answer = await this.send(req);
    if ((answer.status >= 200 && answer.status < 300) || ok.includes(answer.status)) return answer;
    throw answerError(answer, what);
  }

  /** CreateMultipartUpload of `key` with `headers` (content type, ACL, storage class, encryption): its UploadId. */
  async createUpload(key: string, headers: Record<string, string>): Promise<string> {
    const answer = await this.expect({ method: 'POST', key, query: { uploads: '' }, headers }, `create upload of ${key}`);
    const id = textOf(answer.body.toString('utf8'), 'UploadId');
    if (!id) throw new S3AnswerError(answer.status, 'InvalidAnswer', `create upload of ${key}: no UploadId in the answer`);
    return id;
  }

  /** UploadPart: `body` (signed with its SHA-256, which the store checks) as part `part`; its ETag. */
  async uploadPart(key: string, uploadId: string, part: number, body: Buffer): Promise<string> {
    const answer = await this.expect({ method: 'PUT', key, query: { partNumber: String(part), uploadId }, body }, `part ${part} of ${key}`);
    const etag = answer.headers.get('etag');
    if (!etag) throw new S3AnswerError(answer.status, 'InvalidAnswer', `part ${part} of ${key}: no ETag in the answer`);
    return etag;
  }

  /** UploadPartCopy of bytes `range` ("bytes=a-b") of `source` ("bucket/key", encoded) as part `part`: its ETag. */
  async uploadPartCopy(key: string, uploadId: string, part: number, source: string, range: string): Promise<string> {
    const headers = { 'x-amz-copy-source': '/' + source, 'x-amz-copy-source-range': range };
    const answer = await this.expect({ method: 'PUT', key, query: { partNumber: String(part), uploadId }, headers, errorIn200: true }, `part copy ${part} of ${key}`);
    return textOf(answer.body.toString('utf8'), 'ETag') ?? '';
  }

  /** CompleteMultipartUpload with `parts` in order. */
  async completeUpload(key: string, uploadId: string, parts: ReadonlyArray<{ PartNumber?: number; ETag?: string }>): Promise<void> {
    const list = parts.map((p) => `<Part><PartNumber>${p.PartNumber}</PartNumber><ETag>${escapeXml(p.ETag ?? '')}</ETag></Part>`).join('');
    const body = Buffer.from(`<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${list}</CompleteMultipartUpload>`);
    await this.expect({ method: 'POST', key, query: { uploadId }, headers: { 'content-type': 'application/xml' }, body, errorIn200: true }, `complete upload of ${key}`);
  }

  /** AbortMultipartUpload; an upload already gone (404 NoSuchUpload) is no error. */
  async abortUpload(key: string, uploadId: string): Promise<void> {
    await this.expect({ method: 'DELETE', key, query: { uploadId } }, `abort upload of ${key}`, [404]);
  }

  /** One page of ListMultipartUploads below `prefix`, after the markers. */
  async listUploads(prefix: string, keyMarker?: string, uploadIdMarker?: string): Promise<UploadsPage> {
    const query = { uploads: '', prefix, 'max-uploads': '1000', 'key-marker': keyMarker, 'upload-id-marker': uploadIdMarker };
    const xml = (await this.expect({ method: 'GET', key: '', query }, `list uploads ${prefix}`)).body.toString('utf8');
    const uploads = elementsOf(xml, 'Upload').map((u) => {
      const initiated = new Date(textOf(u, 'Initiated') ?? 0);
      return { key: textOf(u, 'Key') ?? '', uploadId: textOf(u, 'UploadId') ?? '', initiated: Number.isNaN(initiated.getTime()) ? new Date(0) : initiated };
    });
    return { uploads, truncated: textOf(xml, 'IsTruncated') === 'true', nextKeyMarker: textOf(xml, 'NextKeyMarker') || undefined, nextUploadIdMarker: textOf(xml, 'NextUploadIdMarker') || undefined };
  }

  /** One page of ListParts of an upload, after part `marker`. */
  async listParts(key: string, uploadId: string, marker?: string): Promise<PartsPage> {
    const query = { uploadId, 'max-parts': '1000', 'part-number-marker': marker };
    const xml = (await this.expect({ method: 'GET', key, query }, `list parts of ${key}`)).body.toString('utf8');
    const parts = elementsOf(xml, 'Part').map((p) => ({ PartNumber: Number(textOf(p, 'PartNumber')), ETag: textOf(p, 'ETag') ?? '', Size: Number(textOf(p, 'Size')) }));
    return { parts: parts.filter((p) => Number.isSafeInteger(p.PartNumber) && Number.isSafeInteger(p.Size)), truncated: textOf(xml, 'IsTruncated') === 'true', next: textOf(xml, 'NextPartNumberMarker') || undefined };
  }

  /** DeleteObjects of up to 1000 keys (quiet): the keys that failed, with their codes. */
  async deleteMany(keys: string[]): Promise<Array<{ key: string; code: string; message: string }>> {
    const body = Buffer.from(`<Delete><Quiet>true</Quiet>${keys.map((k) => `<Object><Key>${escapeXml(k)}</Key></Object>`).join('')}</Delete>`);
    const headers = { 'content-type': 'application/xml', 'content-md5': createHash('md5').update(body).digest('base64') };
    const xml = (await this.expect({ method: 'POST', key: '', query: { delete: '' }, headers, body }, 'delete objects')).body.toString('utf8');
    return elementsOf(xml, 'Error').map((e) => ({ key: textOf(e, 'Key') ?? '', code: textOf(e, 'Code') ?? '', message: textOf(e, 'Message') ?? '' }));
  }

  /** A GET of `key` from `offset` whose body the caller reads (plain-http.ts, ObjectGet); tried once. */
  async openGet(key: string, offset: number): Promise<ObjectGet> {
    const { path } = this.target(key);
    return this.http.get(path, await this.signed('GET', path, '', {}, undefined), offset);
  }

  /** A presigned URL of `key` for `method`, valid for `expiresIn` seconds. */
  async presign(method: 'GET' | 'HEAD', key: string, expiresIn: number): Promise<string> {
    const { path } = this.target(key);
    const query = this.signer.presign(method, this.host, path, expiresIn, await this.options.credentials());
    return `${this.options.endpoint.protocol}//${this.host}${path}?${query}`;
  }

  close(): void {
    this.http.close();
  }
}

export interface UploadsPage {
  uploads: Array<{ key: string; uploadId: string; initiated: Date }>;
  truncated: boolean;
  nextKeyMarker: string | undefined;
  nextUploadIdMarker: string | undefined;
}

export interface PartsPage {
  parts: Array<{ PartNumber: number; ETag: string; Size: number }>;
  truncated: boolean;
  next: string | undefined;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The content of every element `name` in `xml` (elements of that name never nest in S3's answers). */
function elementsOf(xml: string, name: string): string[] {
  const out: string[] = [];
  const open = `<${name}>`;
  const close = `</${name}>`;
  for (let at = xml.indexOf(open); at >= 0; at = xml.indexOf(open, at)) {
    const end = xml.indexOf(close, at + open.length);
    if (end < 0) break;
    out.push(xml.slice(at + open.length, end));
    at = end + close.length;
  }
  return out;
}
