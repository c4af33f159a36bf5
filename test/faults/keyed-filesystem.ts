/**
 * A filesystem that lists like an object store: the filesystem driver plus listFiles and
 * listChildren (StorageDriver's key-listing capabilities). With it a registry runs in key-listing
 * mode (src/storage/modes.ts) and saves its listings beside the layout, as on S3 or Azure, but on
 * a disk a test can fill: the only object store here (Ceph RGW on memstore) blocks writes when
 * full rather than refusing them.
 */
import { createFilesystemDriver } from '../../src/storage/driver/filesystem.js';
import { isPathNotFound } from '../../src/storage/driver/errors.js';
import { registerDriver } from '../../src/storage/driver/factory.js';
import type { StorageDriver } from '../../src/storage/driver/types.js';

export const KEYED_FILESYSTEM = 'keyed-filesystem-test';

/** Paths whose putContent failed, with the error code (the test's view of writes it cannot see over HTTP). */
export const failedPuts: Array<{ path: string; code: string | undefined }> = [];

const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

async function keyed(parameters: Record<string, unknown>): Promise<StorageDriver> {
  const fs = await createFilesystemDriver(parameters);
  const driver: StorageDriver = Object.create(fs) as StorageDriver;
  driver.putContent = async (path, content) => {
    try {
      await fs.putContent(path, content);
    } catch (err) {
      failedPuts.push({ path, code: (err as NodeJS.ErrnoException).code });
      throw err;
    }
  };
  driver.listFiles = async function* (path: string) {
    const files: string[] = [];
    try {
      await fs.walk(path, (info) => {
        if (!info.isDir) files.push(info.path);
      });
    } catch (err) {
      if (isPathNotFound(err)) return;
      throw err;
    }
    files.sort(byBytes);
    for (let i = 0; i < files.length; i += 1000) yield files.slice(i, i + 1000);
  };
  driver.listChildren = async function* (path: string, after?: string) {
    let children: string[];
    try {
      children = await fs.list(path);
    } catch (err) {
      if (isPathNotFound(err)) return;
      throw err;
    }
    const names = await Promise.all(children.map(async (child) => {
      const name = child.slice(child.lastIndexOf('/') + 1);
      return (await fs.stat(child)).isDir ? `${name}/` : name;
    }));
    yield names.filter((n) => after === undefined || byBytes(n, after) > 0).sort(byBytes);
  };
  return driver;
}

let registered = false;

/** Registers the driver under KEYED_FILESYSTEM (once per process); it takes the filesystem driver's parameters. */
export function registerKeyedFilesystem(): void {
  if (registered) return;
  registerDriver(KEYED_FILESYSTEM, keyed);
  registered = true;
}
