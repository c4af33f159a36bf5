import type { Digest } from '../oci/digest.js';

/**
 * What the storage services tell policy (src/policy) as they work; policy implements these and
 * storage never imports it.
 */

/** What is recorded of one manifest in one repository. */
export interface ManifestRecord {
  /** When it was last pushed (ms since the epoch), or null when not recorded. */
  pushed: number | null;
  /** When it was last pulled (GET by tag or digest), or null when never. */
  pulled: number | null;
  /** How many times it was pulled. */
  pulls: number;
}

/**
 * Push and pull records of manifests (src/policy/records): told on the write and read paths
 * (which wait for nothing), read by the UI's endpoints and retention.
 */
export interface ActivityRecords {
  /** A manifest was pushed to repository `name` (PUT by tag or by digest). */
  pushed(name: string, digest: Digest): void;
  /** A manifest was fetched from repository `name` (GET by tag or digest, not HEAD). */
  pulled(name: string, digest: Digest): void;
  /** A repository was deleted: its records go too (a failure is logged, never thrown). */
  forgetRepository(name: string): Promise<void>;
  /** Repository `name`'s records by digest. */
  read(name: string): Promise<ReadonlyMap<string, ManifestRecord>>;
}
