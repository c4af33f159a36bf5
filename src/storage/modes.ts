import type { StorageDriver } from './driver/types.js';

/**
 * How long a kept listing (catalog, tag list) past fresh is still answered while it is read again
 * in the background (at least; KeptList scales it with the load time). Changes made through this
 * process, or announced by other instances, are in it at once; a change made by another program
 * writing the storage shows up once a reload has finished.
 */
const STALE_LISTING_MS = 30_000;

/** A driver of an object store, which lists keys page by page (StorageDriver.listFiles, listChildren). */
export type KeyListingDriver = StorageDriver & Required<Pick<StorageDriver, 'listFiles' | 'listChildren'>>;

/**
 * The modes the storage services run in, decided once from the driver and the configuration.
 *
 * - Caching (berth.metadatattl > 0, the default): metadata is trusted for the ttl, listings are
 *   kept between requests and, on object stores, saved beside the layout. Off (several instances
 *   without Redis): every request reads storage, nothing stale is answered, nothing is saved.
 * - Key listing (object stores: s3, azure): the catalog is one flat listing of keys, tag lists
 *   are read page by page and answered early, and the first listings start from saved lists.
 *   Otherwise (filesystem, inmemory) directories are read one by one.
 * - Saved lists (both): the catalog and tag lists are saved beside the layout, so that a new
 *   process starts from them instead of listing the whole bucket (src/storage/listing/saved-list.ts).
 */
export interface StorageModes {
  readonly caching: boolean;
  /** How long metadata and a listing read from storage are fresh (0 with caching off). */
  readonly ttlMs: number;
  /** How long a listing past fresh is still answered while it is read again (0 with caching off). */
  readonly staleListingMs: number;
  /** The driver, when it lists keys page by page. */
  readonly keyListing: KeyListingDriver | undefined;
  /** The driver whose listings are saved beside the layout (key listing with caching on). */
  readonly savedLists: KeyListingDriver | undefined;
}

export function storageModes(driver: StorageDriver, metadataTtlMs: number): StorageModes {
  const caching = metadataTtlMs > 0;
  const keyListing = listsKeys(driver) ? driver : undefined;
  return {
    caching,
    ttlMs: caching ? metadataTtlMs : 0,
    staleListingMs: caching ? STALE_LISTING_MS : 0,
    keyListing,
    savedLists: caching ? keyListing : undefined,
  };
}

/** Whether the driver lists keys page by page: an object store, whose directories are implicit (a key prefix, gone with its last key). */
export function listsKeys(driver: StorageDriver): driver is KeyListingDriver {
  return driver.listFiles !== undefined && driver.listChildren !== undefined;
}
