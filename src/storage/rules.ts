import type { Digest } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';

/**
 * What the storage services ask of policy (src/policy: berth.immutabletags, berth.quotas) and tell
 * it. Policy implements these; storage never imports it. The rules are asked at the one method of
 * each write kind (docs/architecture.md, "writes a policy may refuse"), before anything is
 * written: a refusal leaves nothing half-done.
 */
export interface StorageRules {
  /** The rule that makes `tag` of repository `name` immutable, described for messages; undefined when none does. */
  immutable(name: string, tag: string): string | undefined;
  /** Whether some tag of repository `name` may be immutable (a blob unlink then checks what they reference). */
  protects(name: string): boolean;
  /**
   * `size` bytes of `digest` are about to be linked into repository `name` (a blob at upload end or
   * mount, a manifest revision): counted against its quotas until `release`, by when the link is
   * written (and counted as such) or has failed. Throws RegistryError DENIED when it does not fit
   * (with workers, the answer comes after a turn the primary grants).
   */
  reserve(name: string, digest: Digest, size: number): Hold | Promise<Hold>;
  /**
   * Whether writes of `tag` of repository `name` must not interleave across requests, workers and
   * instances (TagLocks): an immutable tag (its first push must win alone) or a tag retention may
   * remove (a push must not land between retention's re-check and its delete).
   */
  serializes(name: string, tag: string): boolean;
}

export interface Hold {
  release(): void;
}

const NOTHING_HELD: Hold = { release: () => undefined };

/** No immutable tags and no quotas. */
export const noRules: StorageRules = {
  immutable: () => undefined,
  protects: () => false,
  reserve: () => NOTHING_HELD,
  serializes: () => false,
};

/** Refusal of a write an immutable tag forbids (403 DENIED, naming the tag and the rule). */
export function immutableTagError(name: string, tag: string, rule: string, what: string): RegistryError {
  return new RegistryError('DENIED', `tag ${tag} of ${name} is immutable (${rule}): ${what}`, { tag, rule });
}

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
