import { Readable } from 'node:stream';
import { InvalidOffsetError, PathNotFoundError, StorageDriverError } from './errors.js';
import type { FileInfo, FileWriter, RedirectOptions, StorageDriver, WalkFn, WalkOptions, WriterOptions } from './types.js';
import { childPath, walkTree } from './walk.js';

/**
 * The `inmemory` driver: a tree of directories and files held in memory, for tests and
 * development. Content is kept as a list of chunks so appends never re-copy what came before;
 * a whole-file read joins the chunks once and keeps the joined buffer. Paths come checked by the
 * base wrapper. Takes no parameters.
 */

interface FileNode {
  kind: 'file';
  chunks: Buffer[];
  size: number;
  modTime: Date;
}

interface DirNode {
  kind: 'dir';
  children: Map<string, Node>;
  modTime: Date;
}

type Node = FileNode | DirNode;

const NAME = 'inmemory';

function parts(path: string): string[] {
  return path === '/' ? [] : path.slice(1).split('/');
}

function newDir(): DirNode {
  return { kind: 'dir', children: new Map(), modTime: new Date() };
}

export function createInMemoryDriver(_parameters: Record<string, unknown> = {}): StorageDriver {
  return new InMemoryDriver();
}

export class InMemoryDriver implements StorageDriver {
  readonly name = NAME;
  private readonly root: DirNode = newDir();

  private find(path: string): Node | undefined {
    let node: Node = this.root;
    for (const part of parts(path)) {
      if (node.kind !== 'dir') return undefined;
      const next: Node | undefined = node.children.get(part);
      if (!next) return undefined;
      node = next;
    }
    return node;
  }

  private file(path: string): FileNode {
    const node = this.find(path);
    if (!node || node.kind !== 'file') throw new PathNotFoundError(NAME, path);
    return node;
  }

  /** The directory that holds path, created as needed. */
  private parentFor(path: string): { dir: DirNode; name: string } {
    const names = parts(path);
    const name = names.pop()!;
    let dir = this.root;
    for (const part of names) {
      let next = dir.children.get(part);
      if (!next) {
        next = newDir();
        dir.children.set(part, next);
        dir.modTime = new Date();
      }
      if (next.kind !== 'dir') throw new StorageDriverError(NAME, `${NAME}: not a directory: ${path}`);
      dir = next;
    }
    return { dir, name };
  }

  /** Puts a node at path, replacing a file there (never a directory). */
  private place(path: string, node: Node): void {
    const { dir, name } = this.parentFor(path);
    const old = dir.children.get(name);
    if (old?.kind === 'dir') throw new StorageDriverError(NAME, `${NAME}: is a directory: ${path}`);
    dir.children.set(name, node);
    dir.modTime = new Date();
  }

  private detach(path: string): Node {
    const names = parts(path);
    const name = names.pop()!;
    const parent = this.find(names.length ? `/${names.join('/')}` : '/');
    const node = parent?.kind === 'dir' ? parent.children.get(name) : undefined;
    if (!node || parent?.kind !== 'dir') throw new PathNotFoundError(NAME, path);
    parent.children.delete(name);
    parent.modTime = new Date();
    return node;
  }

  async getContent(path: string): Promise<Buffer> {
    const file = this.file(path);
    if (file.chunks.length > 1) file.chunks = [Buffer.concat(file.chunks, file.size)];
    return Buffer.from(file.chunks[0] ?? Buffer.alloc(0));
  }

  async putContent(path: string, content: Uint8Array): Promise<void> {
    const copy = Buffer.from(content);
    this.place(path, { kind: 'file', chunks: [copy], size: copy.length, modTime: new Date() });
  }

  async reader(path: string, offset = 0, length?: number): Promise<Readable> {
    const file = this.file(path);
    if (offset > file.size) throw new InvalidOffsetError(NAME, path, offset);
    const end = length === undefined ? file.size : Math.min(file.size, offset + length);
    const slices: Buffer[] = [];
    let pos = 0;
    for (const chunk of file.chunks) {
      const from = Math.max(offset, pos);
      const to = Math.min(end, pos + chunk.length);
      if (from < to) slices.push(chunk.subarray(from - pos, to - pos));
      pos += chunk.length;
      if (pos >= end) break;
    }
    return Readable.from(slices, { objectMode: false });
  }

  async writer(path: string, { append = false }: WriterOptions = {}): Promise<FileWriter> {
    let node: FileNode;
    if (append) {
      node = this.file(path);
    } else {
      node = { kind: 'file', chunks: [], size: 0, modTime: new Date() };
      this.place(path, node);
    }
    return new InMemoryWriter(this, path, node);
  }

  async stat(path: string): Promise<FileInfo> {
    const node = this.find(path);
    if (!node) throw new PathNotFoundError(NAME, path);
    return info(path, node);
  }

  async list(path: string): Promise<string[]> {
    const node = this.find(path);
    if (!node || node.kind !== 'dir') throw new PathNotFoundError(NAME, path);
    return [...node.children.keys()].sort().map((name) => childPath(path, name));
  }

  async move(sourcePath: string, destPath: string): Promise<void> {
    const node = this.find(sourcePath);
    if (!node) throw new PathNotFoundError(NAME, sourcePath);
    if (sourcePath === destPath) return;
    if (destPath.startsWith(sourcePath + '/')) {
      throw new StorageDriverError(NAME, `${NAME}: cannot move ${sourcePath} into itself`);
    }
    const dest = this.find(destPath);
    if (dest?.kind === 'dir') throw new StorageDriverError(NAME, `${NAME}: is a directory: ${destPath}`);
    this.parentFor(destPath); // fails before detaching when dest's parent is a file
    this.detach(sourcePath);
    this.place(destPath, node);
  }

  async delete(path: string): Promise<void> {
    this.detach(path);
  }

  async redirectURL(_path: string, _options: RedirectOptions): Promise<string | undefined> {
    return undefined;
  }

  async walk(path: string, visit: WalkFn, options?: WalkOptions): Promise<void> {
    const children = async (dir: string): Promise<FileInfo[]> => {
      const node = this.find(dir);
      if (!node || node.kind !== 'dir') throw new PathNotFoundError(NAME, dir);
      return [...node.children].map(([name, child]) => info(childPath(dir, name), child));
    };
    await walkTree(path, children, visit, options);
  }

  /** For the writer: whether node is still the file at path (not deleted or replaced). */
  isCurrent(path: string, node: FileNode): boolean {
    return this.find(path) === node;
  }

  /** For the writer's cancel: removes node when it is still at path. */
  discard(path: string, node: FileNode): void {
    if (this.isCurrent(path, node)) this.detach(path);
  }
}

function info(path: string, node: Node): FileInfo {
  return node.kind === 'file'
    ? { path, size: node.size, modTime: node.modTime, isDir: false }
    : { path, size: 0, modTime: node.modTime, isDir: true };
}

class InMemoryWriter implements FileWriter {
  private state: 'open' | 'closed' | 'committed' | 'cancelled' = 'open';

  constructor(
    private readonly driver: InMemoryDriver,
    private readonly path: string,
    private readonly node: FileNode,
  ) {}

  get size(): number {
    return this.node.size;
  }

  private ensureOpen(): void {
    if (this.state !== 'open') throw new StorageDriverError(NAME, `${NAME}: writer for ${this.path} is ${this.state}`);
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.ensureOpen();
    if (chunk.length === 0) return;
    this.node.chunks.push(Buffer.from(chunk));
    this.node.size += chunk.length;
    this.node.modTime = new Date();
  }

  /** write() keeps a copy, so the chunk is free as soon as it returns. */
  writeBorrowed(chunk: Uint8Array): Promise<void> {
    return this.write(chunk);
  }

  async close(): Promise<void> {
    if (this.state === 'open') this.state = 'closed';
  }

  async cancel(): Promise<void> {
    if (this.state === 'cancelled') return;
    if (this.state === 'committed') throw new StorageDriverError(NAME, `${NAME}: writer for ${this.path} is committed`);
    this.state = 'cancelled';
    this.driver.discard(this.path, this.node);
  }

  async commit(): Promise<void> {
    this.ensureOpen();
    this.state = 'committed';
  }
}
