/**
 * An OCI image layout directory (image-spec "image-layout": `oci-layout`, `index.json`,
 * `blobs/<alg>/<hex>`), the layout skopeo (`oci:DIR[:TAG]`) and umoci read and write. Tags are
 * index.json entries annotated `org.opencontainers.image.ref.name`.
 *
 * Writes are atomic: a blob streams into a temporary file in the layout's root (the same
 * filesystem), is verified against its digest and only then renamed into blobs/; index.json is
 * rewritten to a temporary name and renamed. A killed process leaves at most a stray
 * `.berth-*.tmp` file, never a torn blob or index. Index updates within one process are
 * serialised; two processes writing one layout at once may lose a tag (as with skopeo).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MediaTypes, descriptorJson, parseDescriptorList, type Descriptor } from '../../oci/descriptor.js';
import { tryParseDigest, type Digest } from '../../oci/digest.js';
import { detectMediaType } from '../../oci/formats.js';
import { parseJsonObject } from '../../oci/graph.js';
import { isValidRefName } from '../../oci/reference.js';
import type { Options, TagLister, Target } from '../content/storage.js';
import { isVerified, toStream, verifying } from '../content/verify.js';
import { ClientError, ContentNotFoundError } from '../errors.js';

export const REF_NAME = 'org.opencontainers.image.ref.name';
const LAYOUT_FILE = JSON.stringify({ imageLayoutVersion: '1.0.0' });

interface IndexDoc {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Record<string, unknown>[];
  [k: string]: unknown;
}

export class OciLayout implements Target, TagLister {
  readonly name: string;
  private queue: Promise<unknown> = Promise.resolve();
  private ready?: Promise<void>;

  constructor(readonly dir: string) {
    this.name = `oci:${dir}`;
  }

  blobPath(digest: Digest): string {
    return path.join(this.dir, 'blobs', digest.algorithm, digest.hex);
  }

  private notFound(what: string): ContentNotFoundError {
    return new ContentNotFoundError(`${this.name}: ${what} not found`, { code: 'MANIFEST_UNKNOWN' });
  }

  /** Creates the directory, `oci-layout` and an empty `index.json` where missing (for writing). */
  private init(): Promise<void> {
    this.ready ??= (async () => {
      await mkdir(path.join(this.dir, 'blobs'), { recursive: true });
      await this.writeIfMissing('oci-layout', LAYOUT_FILE);
      await this.writeIfMissing('index.json', JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] }));
    })();
    return this.ready;
  }

  private async writeIfMissing(name: string, text: string): Promise<void> {
    try {
      await stat(path.join(this.dir, name));
    } catch {
      await this.atomicWrite(name, text);
    }
  }

  private tempName(): string {
    return path.join(this.dir, `.berth-${randomBytes(8).toString('hex')}.tmp`);
  }

  private async atomicWrite(name: string, text: string): Promise<void> {
    const tmp = this.tempName();
    try {
      await writeFile(tmp, text);
      await rename(tmp, path.join(this.dir, name));
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async readIndex(): Promise<IndexDoc> {
    let text: string;
    try {
      text = await readFile(path.join(this.dir, 'index.json'), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] };
      throw err;
    }
    const doc = parseJsonObject(Buffer.from(text), `${this.name}/index.json`) as IndexDoc;
    if (!Array.isArray(doc.manifests)) throw new ClientError(`${this.name}/index.json has no manifests list`, { code: 'MANIFEST_INVALID' });
    return doc;
  }

  /** Entries of index.json, parsed. */
  async entries(): Promise<Descriptor[]> {
    return parseDescriptorList((await this.readIndex()).manifests, 'index.json manifests', false);
  }

  /** Applies `change` to index.json under the in-process lock and writes it atomically. */
  private updateIndex(change: (manifests: Record<string, unknown>[]) => Record<string, unknown>[]): Promise<void> {
    const run = this.queue.then(async () => {
      await this.init();
      const doc = await this.readIndex();
      doc.manifests = change(doc.manifests);
      await this.atomicWrite('index.json', JSON.stringify(doc));
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  async exists(desc: Descriptor): Promise<boolean> {
    try {
      return (await stat(this.blobPath(desc.digest))).size === desc.size;
    } catch {
      return false;
    }
  }

  async fetch(desc: Descriptor): Promise<Readable> {
    const file = this.blobPath(desc.digest);
    try {
      await stat(file);
    } catch {
      throw new ContentNotFoundError(`${this.name}: blob ${desc.digest.value} not found`, { code: 'BLOB_UNKNOWN' });
    }
    return createReadStream(file, { highWaterMark: 1 << 20 }).pipe(verifying(desc));
  }

  async push(desc: Descriptor, content: Readable | Buffer, opts: Options = {}): Promise<void> {
    await this.init();
    const tmp = this.tempName();
    try {
      // A stream that verifies itself (a registry's blob as it arrives) is not hashed twice.
      if (isVerified(content, desc)) await pipeline(content, createWriteStream(tmp), { signal: opts.signal });
      else await pipeline(toStream(content), verifying(desc), createWriteStream(tmp), { signal: opts.signal });
      await mkdir(path.dirname(this.blobPath(desc.digest)), { recursive: true });
      await rename(tmp, this.blobPath(desc.digest));
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async resolve(reference: string): Promise<Descriptor> {
    const entries = await this.entries();
    const digest = tryParseDigest(reference);
    if (digest) {
      const entry = entries.find((e) => e.digest.value === digest.value);
      if (entry) return withoutRefName(entry);
      // Any manifest in blobs/, named by digest: its type from its own mediaType field.
      let bytes: Buffer;
      try {
        bytes = await readFile(this.blobPath(digest));
      } catch {
        throw this.notFound(reference);
      }
      return { mediaType: detectMediaType(parseJsonObject(bytes, reference)), digest, size: bytes.length };
    }
    const entry = entries.find((e) => e.annotations?.[REF_NAME] === reference);
    if (!entry) throw this.notFound(`tag ${reference}`);
    return withoutRefName(entry);
  }

  /** Points `tag` at `desc` in index.json (replacing the entry that had the tag). */
  async tag(desc: Descriptor, tag: string): Promise<void> {
    if (!isValidRefName(tag)) throw new TypeError(`invalid reference name ${JSON.stringify(tag)}`);
    if (!(await this.exists(desc))) throw this.notFound(desc.digest.value);
    const entry = descriptorJson({ ...desc, annotations: { ...desc.annotations, [REF_NAME]: tag } });
    await this.updateIndex((list) => [...list.filter((m) => refName(m) !== tag), entry]);
  }

  /** Lists `desc` in index.json without a tag, unless it is listed already (so that it stays reachable). */
  async record(desc: Descriptor): Promise<void> {
    await this.updateIndex((list) => (list.some((m) => m.digest === desc.digest.value) ? list : [...list, descriptorJson(desc)]));
  }

  async *tags(): AsyncIterable<string> {
    for (const e of await this.entries()) {
      const name = e.annotations?.[REF_NAME];
      if (name) yield name;
    }
  }
}

function refName(m: Record<string, unknown>): unknown {
  return (m.annotations as Record<string, unknown> | undefined)?.[REF_NAME];
}

function withoutRefName(d: Descriptor): Descriptor {
  if (!d.annotations || !(REF_NAME in d.annotations)) return d;
  const { [REF_NAME]: _drop, ...rest } = d.annotations;
  return Object.keys(rest).length ? { ...d, annotations: rest } : { mediaType: d.mediaType, digest: d.digest, size: d.size, ...(d.platform ? { platform: d.platform } : {}) };
}
