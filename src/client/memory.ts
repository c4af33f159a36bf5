/** A target in memory: for tests and for programs that build content before pushing it. */
import { Readable } from 'node:stream';
import type { Descriptor } from '../oci/descriptor.js';
import { tryParseDigest } from '../oci/digest.js';
import type { Target, TagLister } from './content/storage.js';
import { readAll, toStream, verifying } from './content/verify.js';
import { ContentNotFoundError } from './errors.js';

export class MemoryStore implements Target, TagLister {
  readonly name = 'memory';
  private readonly blobs = new Map<string, { desc: Descriptor; data: Buffer }>();
  private readonly tagMap = new Map<string, Descriptor>();

  async exists(desc: Descriptor): Promise<boolean> {
    return this.blobs.get(desc.digest.value)?.data.length === desc.size;
  }

  async fetch(desc: Descriptor): Promise<Readable> {
    const b = this.blobs.get(desc.digest.value);
    if (!b) throw new ContentNotFoundError(`memory: ${desc.digest.value} not found`, { code: 'BLOB_UNKNOWN' });
    return Readable.from([b.data]).pipe(verifying(desc));
  }

  async push(desc: Descriptor, content: Readable | Buffer): Promise<void> {
    const data = await readAll(toStream(content).pipe(verifying(desc)), Number.MAX_SAFE_INTEGER);
    this.blobs.set(desc.digest.value, { desc, data });
  }

  async resolve(reference: string): Promise<Descriptor> {
    const d = tryParseDigest(reference);
    const found = d ? this.blobs.get(d.value)?.desc : this.tagMap.get(reference);
    if (!found) throw new ContentNotFoundError(`memory: ${reference} not found`, { code: 'MANIFEST_UNKNOWN' });
    return found;
  }

  async tag(desc: Descriptor, tag: string): Promise<void> {
    if (!this.blobs.has(desc.digest.value)) throw new ContentNotFoundError(`memory: ${desc.digest.value} not found`, { code: 'MANIFEST_UNKNOWN' });
    this.tagMap.set(tag, desc);
  }

  async *tags(): AsyncIterable<string> {
    yield* [...this.tagMap.keys()].sort();
  }
}
