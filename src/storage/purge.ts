import type { PendingWrite, StorageDriver } from './driver/types.js';
import { isPathNotFound } from './driver/errors.js';
import { BLOBS_ROOT, REPOSITORIES_ROOT, repositoryFolderOf, uploadDir } from './paths.js';

export interface PurgeResult {
  /** Upload directories removed (or, in a dry run, that would be). */
  purged: string[];
  /**
   * Pending writes (S3 multipart uploads) below `_uploads` with no upload directory left to
   * purge, and those at blobs' own paths (a staged write of a pushed blob whose process was
   * killed), started before the cutoff, aborted (or, in a dry run, that would be). Always empty
   * for drivers without pending writes.
   */
  aborted: PendingWrite[];
}

/**
 * Removes uploads started before `olderThan` (storage.maintenance.uploadpurging). The start time
 * is the upload's `startedat` file; when that is missing or unreadable, the directory's own time.
 * Deleting an upload directory also aborts the driver's pending writes in it (driver.delete).
 *
 * Then, on drivers with pending writes: a process killed after starting a multipart upload of
 * `_uploads/<id>/data` but before writing any object there leaves a pending write with no
 * directory, which the walk above cannot see. Those started before `olderThan` are aborted.
 * A pending write is never older than its upload (it starts after `startedat`), so one under a
 * directory that is not yet stale is not old either; directories seen by the walk are left to it.
 * Likewise a blob written straight into place (StorageDriver.stagedWriter) by a process killed
 * before its commit leaves a pending write at the blob's path, invisible to reads and listings;
 * those started before `olderThan` are aborted too (a push in progress is younger than that).
 */
export async function purgeUploads(driver: StorageDriver, { olderThan, dryRun }: { olderThan: Date; dryRun: boolean }): Promise<PurgeResult> {
  const stale: string[] = [];
  const seen = new Set<string>();
  try {
    await driver.walk(REPOSITORIES_ROOT, async (info) => {
      if (!info.isDir) return;
      const base = info.path.slice(info.path.lastIndexOf('/') + 1);
      if (!base.startsWith('_')) return;
      if (base === '_uploads') {
        for (const upload of await driver.list(info.path).catch(() => [] as string[])) {
          seen.add(upload);
          if ((await startedAt(driver, upload)) < olderThan) stale.push(upload);
        }
      }
      return 'skip';
    });
  } catch (err) {
    if (!isPathNotFound(err)) throw err;
  }
  if (!dryRun) {
    for (const path of stale) await driver.delete(path).catch((err) => (isPathNotFound(err) ? undefined : Promise.reject(err)));
  }
  const aborted = await abandonedWrites(driver, olderThan, seen);
  if (!dryRun) for (const write of aborted) await driver.abortPendingWrite!(write);
  return { purged: stale, aborted };
}

/**
 * Pending writes below some `_uploads/<id>` that the walk did not see, and below the blobs'
 * folder, started before `olderThan`.
 */
async function abandonedWrites(driver: StorageDriver, olderThan: Date, seen: Set<string>): Promise<PendingWrite[]> {
  if (!driver.listPendingWrites || !driver.abortPendingWrite) return [];
  const found: PendingWrite[] = [];
  for (const write of await driver.listPendingWrites(REPOSITORIES_ROOT)) {
    const dir = uploadDirOf(write.path);
    if (dir !== undefined && !seen.has(dir) && write.started < olderThan) found.push(write);
  }
  for (const write of await driver.listPendingWrites(BLOBS_ROOT)) {
    if (write.started < olderThan) found.push(write);
  }
  return found;
}

/**
 * `<REPOSITORIES_ROOT>/<name>/_uploads/<id>` for a path at or below it, else undefined. The
 * repository name ends at the first component starting with "_" (no name component does).
 */
export function uploadDirOf(path: string): string | undefined {
  const at = repositoryFolderOf(path);
  return at?.folder === '_uploads' && at.rest.length > 0 ? uploadDir(at.name, at.rest[0]!) : undefined;
}

async function startedAt(driver: StorageDriver, uploadPath: string): Promise<Date> {
  try {
    const text = (await driver.getContent(`${uploadPath}/startedat`)).toString('utf8').trim();
    const t = new Date(text);
    if (!Number.isNaN(t.getTime())) return t;
  } catch {
    // fall back to the directory's time below
  }
  try {
    return (await driver.stat(uploadPath)).modTime;
  } catch {
    return new Date(0);
  }
}
