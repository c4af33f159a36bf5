import type { StorageDriver } from './driver/types.js';
import { isPathNotFound } from './driver/errors.js';
import { REPOSITORIES_ROOT } from './paths.js';

export interface PurgeResult {
  /** Upload directories removed (or, in a dry run, that would be). */
  purged: string[];
}

/**
 * Removes uploads started before `olderThan` (storage.maintenance.uploadpurging). The start time
 * is the upload's `startedat` file; when that is missing or unreadable, the directory's own time.
 */
export async function purgeUploads(driver: StorageDriver, olderThan: Date, dryRun: boolean): Promise<PurgeResult> {
  const stale: string[] = [];
  try {
    await driver.walk(REPOSITORIES_ROOT, async (info) => {
      if (!info.isDir) return;
      const base = info.path.slice(info.path.lastIndexOf('/') + 1);
      if (!base.startsWith('_')) return;
      if (base === '_uploads') {
        for (const upload of await driver.list(info.path).catch(() => [] as string[])) {
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
  return { purged: stale };
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
