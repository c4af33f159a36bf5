import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import * as fsp from 'node:fs/promises';
import nodePath from 'node:path';
import { Readable } from 'node:stream';
import { DirectWrites } from './direct-writes.js';
import { errnoCode, InvalidOffsetError, InvalidPathError, PathNotFoundError } from './errors.js';
import { FilesystemWriter } from './filesystem-writer.js';
import type { FileInfo, FileWriter, RandomAccessFile, RedirectOptions, StorageDriver, WalkFn, WalkOptions, WriterOptions } from './types.js';
import { childPath, walkTree } from './walk.js';

/**
 * The `filesystem` driver (Distribution's semantics): driver path P lives at rootdirectory + P.
 *
 * Parameters: `rootdirectory` (default /var/lib/registry); `maxthreads` (default 100, at least
 * 25: the most file operations in flight at once); Berth's own `fsync` (default false, as
 * Distribution: when true, putContent and writer.commit fdatasync before they return, so content
 * that was acknowledged survives a power loss, at the disk's speed) and `confinesymlinks`
 * (default false, as Distribution: symbolic links are followed wherever they lead, e.g. a blobs
 * folder on another disk; when true, links that resolve outside the root are treated as absent,
 * at the cost of a realpath per operation); and `directwrites` (default true: a writer's aligned
 * runs of 64 KiB or more go past the page cache with O_DIRECT, where the filesystem allows it;
 * direct-writes.ts says why).
 *
 * putContent writes a temporary file under `<root>/.berth-tmp/` (same filesystem, so the rename
 * is atomic) and renames it into place; that folder is hidden from list and walk, its driver
 * path is refused, and temp files older than a day are removed when the driver starts.
 *
 * Paths have no "." or ".." components (base wrapper), so no request can name a file outside the
 * root; only links an operator placed inside it can lead out, and confinesymlinks refuses those.
 */

const NAME = 'filesystem';
export const TEMP_DIR = '.berth-tmp';
const STALE_TEMP_MS = 24 * 60 * 60 * 1000;
const READ_CHUNK_SIZE = 4 * 1024 * 1024;
const WRITE_BLOCK = 256 * 1024;

export interface FilesystemOptions {
  rootDirectory: string;
  maxThreads: number;
  fsync: boolean;
  confineSymlinks: boolean;
  /** Writers write large aligned runs with O_DIRECT where the filesystem allows it. */
  directWrites: boolean;
  /** Bytes per read from a reader stream (its highWaterMark); not a config parameter. */
  readChunkSize?: number;
  /** Bytes per write a writer issues; not a config parameter. */
  writeBlockSize?: number;
}

export function parseFilesystemParameters(parameters: Record<string, unknown>): FilesystemOptions {
  const root = parameters['rootdirectory'] ?? '/var/lib/registry';
  if (typeof root !== 'string' || root === '') throw new Error('storage.filesystem.rootdirectory must be a path');
  const rawThreads = parameters['maxthreads'] ?? 100;
  const threads = typeof rawThreads === 'string' ? Number(rawThreads.trim()) : rawThreads;
  if (typeof threads !== 'number' || !Number.isInteger(threads)) {
    throw new Error(`storage.filesystem.maxthreads must be an integer, got ${String(rawThreads)}`);
  }
  return {
    rootDirectory: nodePath.resolve(root),
    maxThreads: Math.max(25, threads),
    fsync: booleanParameter(parameters, 'fsync'),
    confineSymlinks: booleanParameter(parameters, 'confinesymlinks'),
    directWrites: booleanParameter(parameters, 'directwrites', true),
  };
}

function booleanParameter(parameters: Record<string, unknown>, name: string, fallback = false): boolean {
  const raw = parameters[name] ?? fallback;
  if (raw === true || raw === 'true') return true;
  if (raw === false || raw === 'false') return false;
  throw new Error(`storage.filesystem.${name} must be true or false, got ${String(raw)}`);
}

export async function createFilesystemDriver(parameters: Record<string, unknown> = {}): Promise<StorageDriver> {
  const driver = new FilesystemDriver(parseFilesystemParameters(parameters));
  await driver.removeStaleTemps();
  return driver;
}

/** Bounds how many operations run at once. */
class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly max: number) {}

  async run<T>(op: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await op();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/** ENOENT and ENOTDIR mean nothing is there (a file in the way of a directory is not one). */
function isMissing(err: unknown): boolean {
  const c = errnoCode(err);
  return c === 'ENOENT' || c === 'ENOTDIR';
}

export class FilesystemDriver implements StorageDriver {
  readonly name = NAME;
  readonly root: string;
  private realRoot: string | undefined;
  private readonly limiter: Limiter;
  readonly io = <T>(op: () => Promise<T>): Promise<T> => this.limiter.run(op);
  private readonly direct: DirectWrites | undefined;

  constructor(readonly options: FilesystemOptions) {
    this.root = options.rootDirectory;
    this.limiter = new Limiter(options.maxThreads);
    this.direct = options.directWrites ? new DirectWrites(this.tempDir) : undefined;
  }

  get tempDir(): string {
    return nodePath.join(this.root, TEMP_DIR);
  }

  /** Deletes temp files left over (older than a day) by a process that died mid-write. */
  async removeStaleTemps(now = Date.now()): Promise<number> {
    let names: string[];
    try {
      names = await fsp.readdir(this.tempDir);
    } catch (err) {
      if (isMissing(err)) return 0;
      throw err;
    }
    let removed = 0;
    for (const name of names) {
      const file = nodePath.join(this.tempDir, name);
      const st = await fsp.lstat(file).catch(() => undefined);
      if (st && now - st.mtimeMs > STALE_TEMP_MS) {
        await fsp.rm(file, { recursive: true, force: true });
        removed++;
      }
    }
    return removed;
  }

  /** rootdirectory + path, refusing the temp folder. */
  private full(path: string): string {
    if (path === '/') return this.root;
    if (path === `/${TEMP_DIR}` || path.startsWith(`/${TEMP_DIR}/`)) throw new InvalidPathError(NAME, path);
    return this.root + path;
  }

  private async getRealRoot(): Promise<string | undefined> {
    if (this.realRoot === undefined) {
      try {
        this.realRoot = await fsp.realpath(this.root);
      } catch (err) {
        if (isMissing(err)) return undefined;
        throw err;
      }
    }
    return this.realRoot;
  }

  private async isInside(real: string): Promise<boolean> {
    const root = await this.getRealRoot();
    return root !== undefined && (real === root || real.startsWith(root + nodePath.sep));
  }

  /**
   * The place to operate on for path, after checking that what exists of it resolves inside the
   * root. `last: 'follow'` resolves the final component too (reads); `last: 'keep'` uses it as it
   * is, so a symbolic link itself is moved or deleted (writes).
   * PathNotFoundError when a link leads outside.
   */
  private async resolve(path: string, { last }: { last: 'follow' | 'keep' }): Promise<string> {
    const full = this.full(path);
    if (!this.options.confineSymlinks) return full;
    if (last === 'follow') {
      try {
        const real = await this.io(() => fsp.realpath(full));
        if (!(await this.isInside(real))) throw new PathNotFoundError(NAME, path);
        return real;
      } catch (err) {
        if (!isMissing(err)) throw err;
      }
    }
    if (path === '/') return full;
    let dir = nodePath.dirname(full);
    const rest = [nodePath.basename(full)];
    while (dir.length >= this.root.length) {
      try {
        const real = await this.io(() => fsp.realpath(dir));
        if (!(await this.isInside(real))) throw new PathNotFoundError(NAME, path);
        return nodePath.join(real, ...rest);
      } catch (err) {
        if (!isMissing(err)) throw err;
      }
      rest.unshift(nodePath.basename(dir));
      dir = nodePath.dirname(dir);
    }
    return full; // the root itself does not exist yet: nothing can lead outside
  }

  async getContent(path: string): Promise<Buffer> {
    const real = await this.resolve(path, { last: 'follow' });
    try {
      return await this.io(() => fsp.readFile(real));
    } catch (err) {
      if (isMissing(err) || errnoCode(err) === 'EISDIR') throw new PathNotFoundError(NAME, path);
      throw err;
    }
  }

  async putContent(path: string, content: Uint8Array): Promise<void> {
    const dest = await this.resolve(path, { last: 'keep' });
    const temp = nodePath.join(this.tempDir, `${randomBytes(12).toString('hex')}.tmp`);
    let fh: fsp.FileHandle;
    try {
      fh = await this.io(() => fsp.open(temp, 'wx', 0o644));
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
      await this.ensureDir(this.tempDir);
      fh = await this.io(() => fsp.open(temp, 'wx', 0o644));
    }
    try {
      try {
        await this.io(() => fh.writeFile(content));
        if (this.options.fsync) await this.io(() => fh.datasync());
      } finally {
        await fh.close();
      }
      await this.ensureDir(nodePath.dirname(dest));
      await this.io(() => fsp.rename(temp, dest));
    } catch (err) {
      await fsp.rm(temp, { force: true }).catch(() => undefined);
      throw err;
    }
  }

  /** The file opened for reading, with its size; PathNotFoundError when absent or not a file. */
  private async openFile(path: string): Promise<{ fh: fsp.FileHandle; size: number }> {
    const real = await this.resolve(path, { last: 'follow' });
    let fh: fsp.FileHandle;
    try {
      fh = await this.io(() => fsp.open(real, fsc.O_RDONLY));
    } catch (err) {
      if (isMissing(err)) throw new PathNotFoundError(NAME, path);
      throw err;
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new PathNotFoundError(NAME, path);
      return { fh, size: st.size };
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
  }

  async reader(path: string, offset = 0, length?: number): Promise<Readable> {
    const { fh, size } = await this.openFile(path);
    if (offset >= size || length === 0) {
      await fh.close();
      if (offset > size) throw new InvalidOffsetError(NAME, path, offset);
      return Readable.from([], { objectMode: false });
    }
    return fh.createReadStream({
      start: offset,
      ...(length !== undefined ? { end: offset + length - 1 } : {}),
      highWaterMark: this.options.readChunkSize ?? READ_CHUNK_SIZE,
    });
  }

  async openRead(path: string): Promise<RandomAccessFile> {
    const { fh, size } = await this.openFile(path);
    return {
      size,
      read: async (buffer, length, position) => (await fh.read(buffer, 0, length, position)).bytesRead,
      close: () => fh.close(),
    };
  }

  async writer(path: string, { append = false }: WriterOptions = {}): Promise<FileWriter> {
    const real = await this.resolve(path, { last: append ? 'follow' : 'keep' });
    let fh: fsp.FileHandle;
    let size = 0;
    if (append) {
      try {
        fh = await this.io(() => fsp.open(real, 'r+'));
      } catch (err) {
        if (isMissing(err) || errnoCode(err) === 'EISDIR') throw new PathNotFoundError(NAME, path);
        throw err;
      }
      size = (await fh.stat()).size;
    } else {
      await this.ensureDir(nodePath.dirname(real));
      // Never write through a symbolic link: a link at path is replaced by the new file.
      const flags = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_NOFOLLOW;
      try {
        fh = await this.io(() => fsp.open(real, flags, 0o644));
      } catch (err) {
        if (errnoCode(err) !== 'ELOOP') throw err;
        await fsp.rm(real, { force: true });
        fh = await this.io(() => fsp.open(real, flags | fsc.O_EXCL, 0o644));
      }
    }
    return new FilesystemWriter(fh, path, size, {
      blockSize: this.options.writeBlockSize ?? WRITE_BLOCK,
      sync: this.options.fsync,
      io: this.io,
      remove: async () => {
        await fsp.rm(real, { force: true });
      },
      ...(this.direct ? { direct: { open: () => this.direct!.open(real).catch(() => undefined), writes: this.direct } } : {}),
    });
  }

  async stat(path: string): Promise<FileInfo> {
    const real = await this.resolve(path, { last: 'follow' });
    try {
      const st = await this.io(() => fsp.stat(real));
      const isDir = st.isDirectory();
      return { path, size: isDir ? 0 : st.size, modTime: st.mtime, isDir };
    } catch (err) {
      if (isMissing(err)) throw new PathNotFoundError(NAME, path);
      throw err;
    }
  }

  async list(path: string): Promise<string[]> {
    if (this.options.confineSymlinks) {
      const entries = await this.entries(path);
      return entries.map((e) => childPath(path, e.name)).sort();
    }
    // Names only (no Dirent objects, no per-entry checks): the catalog walk lists every
    // repository directory, so this is its whole cost.
    let names: string[];
    try {
      names = await this.io(() => fsp.readdir(this.full(path)));
    } catch (err) {
      if (isMissing(err) || errnoCode(err) === 'ENOTDIR') throw new PathNotFoundError(NAME, path);
      throw err;
    }
    const out: string[] = [];
    for (const name of names.sort()) if (!(path === '/' && name === TEMP_DIR)) out.push(childPath(path, name));
    return out;
  }

  /** The children of a directory that may be shown: not the temp folder, no link leading out. */
  private async entries(path: string): Promise<Array<{ name: string; real: string; link: boolean }>> {
    return (await this.entriesWithDir(path)).entries;
  }

  private async entriesWithDir(
    path: string,
  ): Promise<{ real: string; entries: Array<{ name: string; real: string; link: boolean }> }> {
    const real = await this.resolve(path, { last: 'follow' });
    let dirents: import('node:fs').Dirent[];
    try {
      dirents = await this.io(() => fsp.readdir(real, { withFileTypes: true }));
    } catch (err) {
      if (isMissing(err)) throw new PathNotFoundError(NAME, path);
      throw err;
    }
    const out: Array<{ name: string; real: string; link: boolean }> = [];
    for (const d of dirents) {
      if (path === '/' && d.name === TEMP_DIR) continue;
      const entry = nodePath.join(real, d.name);
      if (d.isSymbolicLink()) {
        const target = await this.io(() => fsp.realpath(entry)).catch(() => undefined);
        if (target === undefined || (this.options.confineSymlinks && !(await this.isInside(target)))) continue;
        out.push({ name: d.name, real: target, link: true });
      } else {
        out.push({ name: d.name, real: entry, link: false });
      }
    }
    return { real, entries: out };
  }

  async move(sourcePath: string, destPath: string): Promise<void> {
    const source = await this.resolve(sourcePath, { last: 'keep' });
    try {
      await this.io(() => fsp.lstat(source));
    } catch (err) {
      if (isMissing(err)) throw new PathNotFoundError(NAME, sourcePath);
      throw err;
    }
    if (sourcePath === destPath) return;
    const dest = await this.resolve(destPath, { last: 'keep' });
    await this.ensureDir(nodePath.dirname(dest));
    await this.io(() => fsp.rename(source, dest));
  }

  async delete(path: string): Promise<void> {
    const real = await this.resolve(path, { last: 'keep' });
    if (!(await this.remove(real))) throw new PathNotFoundError(NAME, path);
  }

  /**
   * `mkdir -p` in one call in the usual cases: the folder exists, or only it is missing. (Node's
   * recursive mkdir stats a folder that exists; every file operation goes through the thread
   * pool, and a push makes a dozen of them per blob.) Missing parents are made one at a time, from
   * the nearest that exists: Node's recursive mkdir reports ENOENT where a parent could not be
   * made, hiding why (ENOSPC on a full disk, which must be answered 503, not 500). A file in the
   * way fails the operation that follows.
   */
  private async ensureDir(dir: string): Promise<void> {
    try {
      await this.io(() => fsp.mkdir(dir));
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'EEXIST') return;
      const parent = nodePath.dirname(dir);
      if (code !== 'ENOENT' || parent === dir) throw err;
      await this.ensureDir(parent);
      try {
        await this.io(() => fsp.mkdir(dir));
      } catch (again) {
        if (errnoCode(again) !== 'EEXIST') throw again;
      }
    }
  }

  /**
   * Removes a file, a link (never what it leads to) or a folder and all within; false when nothing
   * was there. Tries the one call that usually does it before listing: an upload's folder holds one
   * file by the time it is removed, a tag's folder a few, and fs.rm would lstat each level first.
   */
  private async remove(real: string): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.io(() => fsp.rmdir(real));
        return true;
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'ENOENT') return false;
        // Not a folder (a file, a link), or a file in the path: unlink tells which.
        if (code === 'ENOTDIR') return this.unlink(real);
        // Something was added meanwhile three times over: give up as fs.rm does.
        if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || attempt === 2) throw err;
      }
      let names: string[];
      try {
        names = await this.io(() => fsp.readdir(real));
      } catch (err) {
        if (isMissing(err)) return false;
        throw err;
      }
      await Promise.all(names.map((name) => this.removeChild(nodePath.join(real, name))));
    }
  }

  /** A folder's entry: files are the usual case, so unlink first (EISDIR, or EPERM in POSIX, for a folder). */
  private async removeChild(real: string): Promise<void> {
    try {
      await this.io(() => fsp.unlink(real));
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'EISDIR' || code === 'EPERM') await this.remove(real);
      else if (!isMissing(err)) throw err;
    }
  }

  private async unlink(real: string): Promise<boolean> {
    try {
      await this.io(() => fsp.unlink(real));
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  async redirectURL(_path: string, _options: RedirectOptions): Promise<string | undefined> {
    return undefined;
  }

  async walk(path: string, visit: WalkFn, options?: WalkOptions): Promise<void> {
    const children = async (dir: string): Promise<FileInfo[]> => {
      const { real, entries } = await this.entriesWithDir(dir);
      const infos = await Promise.all(
        entries.map(async (e): Promise<FileInfo | undefined> => {
          // A link back to this directory or one above it would make the walk endless.
          if (e.link && (real === e.real || real.startsWith(e.real + nodePath.sep))) return undefined;
          const st = await this.io(() => fsp.stat(e.real)).catch(() => undefined);
          if (!st) return undefined; // removed meanwhile
          const isDir = st.isDirectory();
          return { path: childPath(dir, e.name), size: isDir ? 0 : st.size, modTime: st.mtime, isDir };
        }),
      );
      return infos.filter((i): i is FileInfo => i !== undefined);
    };
    await walkTree(path, children, visit, options);
  }
}
