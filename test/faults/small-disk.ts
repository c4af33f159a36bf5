/**
 * A small filesystem for the disk-full scenarios: a tmpfs of a few MiB mounted by the test (as
 * root) under the OS tmpdir, and a filler file that takes its free space away and gives it back.
 * tmpfs counts space in pages: every non-empty file takes at least one (4 KiB), directories and
 * empty files none, so what a write needs is known to the page. With `inodes` it also holds at most
 * that many files and folders, and `fillInodes` takes the rest: then no folder can be made, as on a
 * full ext4 disk, where a new folder needs a block.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, open, rm, rmdir, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SmallDisk {
  /** The mount point. */
  readonly dir: string;
  /** Bytes free now. */
  free(): Promise<number>;
  /** Grows the filler until at most `leave` bytes are free (0: the disk is full). */
  fill(leave?: number): Promise<void>;
  /** Makes empty files until no inode is left. */
  fillInodes(): Promise<void>;
  /** Removes the fillers: the space and inodes they took are free again. */
  release(): Promise<void>;
  /** Unmounts and removes the mount point. */
  remove(): Promise<void>;
}

export async function mountSmallDisk(mib: number, { inodes }: { inodes?: number } = {}): Promise<SmallDisk> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-small-disk-'));
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${mib}m,mode=0755${inodes ? `,nr_inodes=${inodes}` : ''}`, 'tmpfs', dir]);
  } catch (err) {
    await rmdir(dir).catch(() => undefined);
    throw new Error(`mounting a ${mib} MiB tmpfs needs root (the fault suite runs as root, as CI does): ${(err as Error).message}`);
  }
  const filler = path.join(dir, 'filler');
  let fillers = 0;
  let empties = 0;
  const free = async () => {
    const s = await statfs(dir);
    return s.bavail * s.bsize;
  };
  return {
    dir,
    free,
    async fill(leave = 0) {
      // Each call adds a file (a page-granular tmpfs may refuse the last partial page of one).
      const fh = await open(`${filler}-${fillers++}`, 'w');
      try {
        const block = Buffer.alloc(64 * 1024);
        for (let want = (await free()) - leave; want > 0; want = (await free()) - leave) {
          try {
            await fh.write(block, 0, Math.min(block.length, want));
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
            throw err;
          }
        }
      } finally {
        await fh.close();
      }
    },
    async fillInodes() {
      for (;;) {
        try {
          await (await open(`${filler}-empty-${empties}`, 'wx')).close();
          empties++;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') return;
          throw err;
        }
      }
    },
    async release() {
      for (let i = 0; i < fillers; i++) await rm(`${filler}-${i}`, { force: true });
      for (let i = 0; i < empties; i++) await rm(`${filler}-empty-${i}`, { force: true });
      fillers = 0;
      empties = 0;
    },
    async remove() {
      await run('umount', [dir]).catch(() => run('umount', ['-l', dir]));
      await rmdir(dir).catch(() => undefined);
    },
  };
}
