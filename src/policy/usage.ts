import type { Logger } from 'pino';
import type { QuotaRule } from '../config/types.js';
import { parseDigest, type Digest } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import type { StorageChange } from '../storage/changes.js';
import { scanBlobs, scanRepositories } from '../gc/scan.js';
import type { StorageDriver } from '../storage/driver/types.js';
import { blobDataPath, layoutPathOf } from '../storage/paths.js';
import type { Hold } from '../storage/rules.js';
import { describeQuotaRule, exceeds, quotaMessage, quotaRulesFor, type QuotaCheck } from './quota.js';

/** What a repository links of one digest: a blob (`_layers`), a manifest revision, or both. */
interface Linked {
  size: number;
  layer: boolean;
  revision: boolean;
}

interface Reservation {
  name: string;
  digest: string;
  size: number;
}

/** A push in flight as the other workers of `berth serve` are told of it. */
export interface PeerHold extends Reservation {
  id: string;
}

/**
 * The other workers of `berth serve` (src/cluster/worker.ts, `quotaPeers`): checks take turns, and a
 * push that passed its check is counted by every worker before the next check anywhere.
 */
export interface QuotaPeers {
  /** Waits until no other worker is checking a quota; the check runs until `release`. */
  turn(): Promise<Hold>;
  /** Tells every other worker of a push in flight; resolves once they count it. */
  hold(hold: PeerHold): Promise<void>;
  /** Its link is written (and announced, so they count that instead) or it failed. */
  release(id: string): void;
}

export interface RuleUsage {
  rule: number;
  description: string;
  /** Undefined for a rule that only measures. */
  limit: number | undefined;
  /** Shared rules: one entry, repository undefined. `each` rules: one entry per matching repository. */
  usage: Array<{ repository?: string; used: number }>;
}

/**
 * Quota usage (berth.quotas, docs/policy.md): what each repository a rule matches links — blobs
 * by their `_layers` link, manifests by their revision link, each digest once per repository,
 * and once per shared rule however many of its repositories link it. Read from the layout at
 * start (`load`), then kept current by every change StorageChanges applies, this process's and
 * other instances' (`follow`): a link written counts, a link deleted (blob or manifest delete,
 * repository delete) stops counting at once, and so does a blob whose data garbage collection
 * removed. A push is counted while it is in flight (`reserve` until the link is written), so
 * concurrent pushes to one instance cannot pass a limit together; with workers (`acrossWorkers`)
 * the check takes a turn the primary grants and every worker counts the push until its link,
 * announced to them before the hold ends, counts instead.
 */
export class QuotaUsage {
  private readonly repos = new Map<string, Map<string, Linked>>();
  /** Per rule: for shared rules, digest → how many of its repositories link it, and their bytes. */
  private readonly shared: Array<{ counts: Map<string, number>; bytes: number } | undefined>;
  private readonly repoBytes = new Map<string, number>();
  /** Sizes of the digests the rules' repositories link or are pushing (content is immutable), so a link this process writes counts at once. */
  private readonly sizes = new Map<string, number>();
  private readonly inFlight = new Set<Reservation>();
  /** Pushes in flight in the other workers, by hold id (they are in `inFlight` too). */
  private readonly peerHolds = new Map<string, Reservation>();
  private peers: QuotaPeers | undefined;
  private nextHold = 0;
  /** Links of other instances whose size is being read, by addingKey: a delete meanwhile cancels them. */
  private readonly adding = new Map<string, object>();

  constructor(
    readonly rules: readonly QuotaRule[],
    private readonly driver: StorageDriver,
    private readonly log?: Logger,
  ) {
    this.shared = rules.map((r) => (r.each ? undefined : { counts: new Map(), bytes: 0 }));
  }

  private matched(name: string): boolean {
    return quotaRulesFor(this.rules, name).length > 0;
  }

  /**
   * Reads what every repository a rule matches links, in one walk of the repositories and one of
   * the blobs (garbage collection's scans): a link to a blob whose data is gone counts nothing.
   */
  async load(): Promise<void> {
    const [repos, blobs] = await Promise.all([scanRepositories(this.driver), scanBlobs(this.driver)]);
    const stored = new Map(blobs.map((b) => [b.digest.value, b.size]));
    for (const [name, scan] of repos) {
      if (!this.matched(name)) continue;
      for (const digest of scan.revisions.keys()) await this.add(name, digest, 'revision', stored.get(digest) ?? 0);
      for (const digest of scan.layers.keys()) await this.add(name, digest, 'layer', stored.get(digest) ?? 0);
    }
  }

  /** Follows every change applied to storage (StorageChanges.follow). */
  follow(changes: readonly StorageChange[] | undefined): void {
    if (!changes) return void this.reload();
    for (const { op, path } of changes) {
      const at = layoutPathOf(path);
      switch (at.kind) {
        case 'layer-link':
        case 'revision': {
          if (!this.matched(at.name)) break;
          const which = at.kind === 'layer-link' ? 'layer' : 'revision';
          if (op === 'put') void this.add(at.name, at.digest, which);
          else this.remove(at.name, at.digest, which);
          break;
        }
        case 'layer-links':
        case 'revisions':
        case 'manifests': {
          if (op !== 'delete') break;
          const which = at.kind === 'layer-links' ? 'layer' : 'revision';
          for (const digest of [...(this.repos.get(at.name)?.keys() ?? [])]) this.remove(at.name, digest, which);
          break;
        }
        case 'names':
          if (op === 'delete') for (const name of [...this.repos.keys()]) if (name === at.prefix || name.startsWith(`${at.prefix}/`)) this.dropRepository(name);
          break;
        case 'blob':
          if (op === 'delete') this.dropDigest(at.digest);
          break;
        case 'all-repositories':
          if (op === 'delete') this.reload();
          break;
      }
    }
  }

  private reload(): void {
    for (const name of [...this.repos.keys()]) this.dropRepository(name);
    this.load().catch((err: unknown) => this.log?.error({ err }, 'could not read quota usage again'));
  }

  private async add(name: string, digest: string, which: 'layer' | 'revision', known?: number): Promise<void> {
    let size = known ?? this.sizes.get(digest);
    if (known !== undefined) this.sizes.set(digest, known);
    if (size === undefined) {
      // Another instance's link: its size is read first, and it counts only if no delete came meanwhile.
      const key = addingKey(name, digest, which);
      const token = {};
      this.adding.set(key, token);
      size = await this.sizeOf(digest);
      if (this.adding.get(key) !== token) return;
      this.adding.delete(key);
      this.sizes.set(digest, size);
    }
    let repo = this.repos.get(name);
    if (!repo) this.repos.set(name, (repo = new Map()));
    const had = repo.get(digest);
    if (had) {
      had[which] = true;
      return;
    }
    repo.set(digest, { size, layer: which === 'layer', revision: which === 'revision' });
    this.repoBytes.set(name, (this.repoBytes.get(name) ?? 0) + size);
    for (const rule of this.sharedRulesOf(name)) {
      const n = (rule.counts.get(digest) ?? 0) + 1;
      rule.counts.set(digest, n);
      if (n === 1) rule.bytes += size;
    }
  }

  private async sizeOf(digest: string): Promise<number> {
    try {
      return (await this.driver.stat(blobDataPath(parseDigest(digest)))).size;
    } catch {
      return 0;
    }
  }

  private remove(name: string, digest: string, which: 'layer' | 'revision'): void {
    this.adding.delete(addingKey(name, digest, which));
    const entry = this.repos.get(name)?.get(digest);
    if (!entry) return;
    entry[which] = false;
    if (!entry.layer && !entry.revision) this.forget(name, digest, entry);
  }

  private forget(name: string, digest: string, entry: Linked): void {
    this.repos.get(name)?.delete(digest);
    this.repoBytes.set(name, (this.repoBytes.get(name) ?? 0) - entry.size);
    for (const rule of this.sharedRulesOf(name)) {
      const n = (rule.counts.get(digest) ?? 0) - 1;
      if (n > 0) rule.counts.set(digest, n);
      else {
        rule.counts.delete(digest);
        rule.bytes -= entry.size;
      }
    }
  }

  private dropRepository(name: string): void {
    for (const key of [...this.adding.keys()]) if (key.startsWith(`${name}\0`)) this.adding.delete(key);
    for (const [digest, entry] of [...(this.repos.get(name) ?? [])]) this.forget(name, digest, entry);
    this.repos.delete(name);
    this.repoBytes.delete(name);
  }

  /** The blob's data is gone: no link to it counts any more. */
  private dropDigest(digest: string): void {
    this.sizes.delete(digest);
    for (const key of [...this.adding.keys()]) if (key.includes(`\0${digest}\0`)) this.adding.delete(key);
    for (const [name, repo] of this.repos) {
      const entry = repo.get(digest);
      if (entry) this.forget(name, digest, entry);
    }
  }

  private sharedRulesOf(name: string): Array<{ counts: Map<string, number>; bytes: number }> {
    return quotaRulesFor(this.rules, name).flatMap((i) => this.shared[i] ?? []);
  }

  /** Repository `name`'s usage under rule `i`, with this process's pushes in flight. */
  private check(i: number, name: string, digest: string, size: number): QuotaCheck {
    const rule = this.rules[i]!;
    const shared = this.shared[i];
    const counted = (d: string, repo: string) => (shared ? (shared.counts.get(d) ?? 0) > 0 : this.repos.get(repo)?.has(d) === true);
    const inRule = (r: Reservation) => (shared ? quotaRulesFor(this.rules, r.name).includes(i) : r.name === name);
    const pending = new Map<string, number>();
    for (const r of this.inFlight) if (inRule(r) && !counted(r.digest, r.name)) pending.set(r.digest, r.size);
    const used = (shared ? shared.bytes : (this.repoBytes.get(name) ?? 0)) + [...pending.values()].reduce((a, b) => a + b, 0);
    const adding = counted(digest, name) || pending.has(digest) ? 0 : size;
    return { rule: i, repository: shared ? undefined : name, used, adding, limit: rule.maxBytes };
  }

  /** Counts a link about to be written against every rule of its repository, or refuses it (403 DENIED). */
  reserve(name: string, digest: Digest, size: number): Hold | Promise<Hold> {
    const rules = quotaRulesFor(this.rules, name);
    if (rules.length === 0) return { release: () => undefined };
    if (this.peers) return this.reserveAcross(this.peers, rules, name, digest, size);
    return this.reserveHere(rules, name, digest, size);
  }

  private reserveHere(rules: number[], name: string, digest: Digest, size: number): Hold {
    this.sizes.set(digest.value, size);
    for (const i of rules) {
      const check = this.check(i, name, digest.value, size);
      if (exceeds(check)) {
        throw new RegistryError('DENIED', quotaMessage(this.rules, check), { rule: describeQuotaRule(this.rules, i), used: check.used, limit: check.limit, adding: check.adding });
      }
    }
    const r: Reservation = { name, digest: digest.value, size };
    this.inFlight.add(r);
    return { release: () => void this.inFlight.delete(r) };
  }

  private async reserveAcross(peers: QuotaPeers, rules: number[], name: string, digest: Digest, size: number): Promise<Hold> {
    const turn = await peers.turn();
    try {
      const local = this.reserveHere(rules, name, digest, size);
      const id = `${process.pid}.${++this.nextHold}`;
      try {
        await peers.hold({ id, name, digest: digest.value, size });
      } catch (err) {
        local.release();
        peers.release(id);
        throw err;
      }
      return {
        release: () => {
          local.release();
          peers.release(id);
        },
      };
    } finally {
      turn.release();
    }
  }

  /** Checks take turns with the other workers of `berth serve`, and their pushes in flight count here. */
  acrossWorkers(peers: QuotaPeers): void {
    this.peers = peers;
  }

  /** Another worker's push in flight (`QuotaPeers.hold`): its size is known here from now on, so its link counts at once. */
  peerHeld(hold: PeerHold): void {
    const r: Reservation = { name: hold.name, digest: hold.digest, size: hold.size };
    this.sizes.set(hold.digest, hold.size);
    this.peerHolds.set(hold.id, r);
    this.inFlight.add(r);
  }

  peerReleased(id: string): void {
    const r = this.peerHolds.get(id);
    if (!r) return;
    this.peerHolds.delete(id);
    this.inFlight.delete(r);
  }

  /** Every repository a rule covers, with the bytes it links (each distinct digest once). */
  repositories(): Array<[string, number]> {
    return [...this.repoBytes];
  }

  /** Usage per rule, for `berth quota` and the metrics. */
  report(): RuleUsage[] {
    return this.rules.map((rule, i) => {
      const shared = this.shared[i];
      const usage = shared
        ? [{ used: shared.bytes }]
        : [...this.repos.keys()].filter((n) => quotaRulesFor(this.rules, n).includes(i)).sort().map((repository) => ({ repository, used: this.repoBytes.get(repository) ?? 0 }));
      return { rule: i, description: describeQuotaRule(this.rules, i), limit: rule.maxBytes, usage };
    });
  }
}

function addingKey(name: string, digest: string, which: string): string {
  return `${name}\0${digest}\0${which}`;
}
