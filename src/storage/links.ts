import { tryParseDigest, type Digest } from '../oci/digest.js';
import { isPathNotFound } from './driver/errors.js';
import type { DeleteOptions, StorageDriver } from './driver/types.js';

/** Reads a link file; undefined when it is absent or does not hold a digest (a torn or foreign file). */
export async function readLink(driver: StorageDriver, path: string): Promise<Digest | undefined> {
  try {
    const content = await driver.getContent(path);
    return tryParseDigest(content.toString('utf8').trim());
  } catch (err) {
    if (isPathNotFound(err)) return undefined;
    throw err;
  }
}

export async function writeLink(driver: StorageDriver, path: string, digest: Digest): Promise<void> {
  await driver.putContent(path, Buffer.from(digest.value));
}

export async function exists(driver: StorageDriver, path: string): Promise<boolean> {
  try {
    await driver.stat(path);
    return true;
  } catch (err) {
    if (isPathNotFound(err)) return false;
    throw err;
  }
}

/** Deletes a path, treating "already gone" as success. Returns whether something was deleted. */
export async function deleteIfExists(driver: StorageDriver, path: string, options?: DeleteOptions): Promise<boolean> {
  try {
    await driver.delete(path, options);
    return true;
  } catch (err) {
    if (isPathNotFound(err)) return false;
    throw err;
  }
}

/** Children names (last path component) of a directory, or [] when it does not exist. */
export async function listNames(driver: StorageDriver, path: string): Promise<string[]> {
  try {
    const children = await driver.list(path);
    return children.map((c) => c.slice(c.lastIndexOf('/') + 1));
  } catch (err) {
    if (isPathNotFound(err)) return [];
    throw err;
  }
}
