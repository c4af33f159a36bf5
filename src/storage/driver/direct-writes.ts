import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import * as fsp from 'node:fs/promises';
import nodePath from 'node:path';
import { alignedBuffers, PAGE } from './aligned-memory.js';
import { errnoCode } from './errors.js';

/**
 * Writes of large file data past the page cache (`O_DIRECT`), for the filesystem driver's writers
 * (`storage.filesystem.directwrites`, docs/performance.md "Direct writes").
 *
 * Why: a push writes data nobody reads back until a pull, and copying it into the page cache cost
 * the pushing process 1.4–1.9 s of system time per GiB on the VMs this was measured on (fresh
 * page-cache pages the hypervisor has to back first), more than all of Berth's own work per byte;
 * a direct write costs about 0.1 s/GiB there, at 1.4 GB/s for 512 KiB writes. The data is read from
 * the disk at its first pull instead of from memory.
 *
 * `O_DIRECT` wants the memory, the file offset and the length aligned to the device's block size,
 * and runs at disk speed only from page-aligned memory (here 640–1,060 MiB/s against 68–246 from
 * memory aligned to 512 or 2,048 bytes). Data already in page-aligned memory (aligned-memory.ts:
 * an upload's blocks) is written from where it is; other data is copied into one of a few staging
 * buffers cut from such memory (the arena) and written from there. A probe write when the arena is
 * made tells whether the filesystem takes direct I/O at all; when it does not (tmpfs, some overlay
 * filesystems), or data needing a stage finds none free, it goes through the page cache as before.
 */

/** File offsets and lengths of direct writes are multiples of this. */
export const ALIGN = PAGE;
/** Bytes per staging buffer, and so per staged direct write. */
export const STAGE_SIZE = 512 * 1024;
/** Staging buffers in the arena: the most staged direct writes in flight at once. */
const STAGES = 4;

export interface DirectTarget {
  /** Writes `length` bytes of `source` (page-aligned memory) at `position` (aligned); resolves to the bytes written. */
  write(source: Uint8Array, length: number, position: number): Promise<number>;
  close(): Promise<void>;
}

/** One per driver: the arena (made at the first direct open) and whether direct I/O works there. */
export class DirectWrites {
  private arena: Promise<Buffer[] | undefined> | undefined;
  private readonly free: Buffer[] = [];
  private unsupported = false;

  constructor(private readonly tempDir: string) {}

  /** A handle for direct writes to `file` (already created), or undefined when direct I/O cannot be used. */
  async open(file: string): Promise<DirectTarget | undefined> {
    if (this.unsupported) return undefined;
    const stages = await (this.arena ??= this.makeArena());
    if (!stages) return undefined;
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(file, fsc.O_WRONLY | fsc.O_DIRECT | fsc.O_NOFOLLOW);
    } catch (err) {
      if (errnoCode(err) === 'EINVAL') this.unsupported = true;
      return undefined;
    }
    return {
      write: async (source, length, position) => (await fh.write(source, 0, length, position)).bytesWritten,
      close: () => fh.close(),
    };
  }

  /** A free staging buffer, or undefined (the caller writes through the page cache then). */
  take(): Buffer | undefined {
    return this.free.pop();
  }

  give(stage: Buffer): void {
    this.free.push(stage);
  }

  /** Direct I/O is refused here (found when opening or writing): writers use the page cache from now on. */
  refuse(): void {
    this.unsupported = true;
  }

  private async makeArena(): Promise<Buffer[] | undefined> {
    const probe = nodePath.join(this.tempDir, `direct-probe-${randomBytes(6).toString('hex')}`);
    let fh: fsp.FileHandle | undefined;
    try {
      await fsp.mkdir(this.tempDir, { recursive: true });
      // Its pages become resident only as staging buffers are used.
      const stages = alignedBuffers(STAGES, STAGE_SIZE);
      if (!stages) throw new Error('no page-aligned memory');
      fh = await fsp.open(probe, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_DIRECT, 0o600);
      await fh.write(stages[0]!, 0, ALIGN, 0);
      this.free.push(...stages);
      return stages;
    } catch {
      // No WebAssembly (node --jitless), the filesystem refuses O_DIRECT (EINVAL at open), or the
      // temp folder or the probe could not be written.
      this.unsupported = true;
      return undefined;
    } finally {
      await fh?.close().catch(() => undefined);
      await fsp.rm(probe, { force: true }).catch(() => undefined);
    }
  }
}

