import type { ImmutableTagRule, RetentionPolicy } from '../config/types.js';
import type { Digest } from '../oci/digest.js';
import { noRules, type Hold, type StorageRules } from '../storage/rules.js';
import { coversRepository, describeImmutableRule, immutableRule } from './immutable.js';
import { policyFor } from './retention.js';
import type { QuotaUsage } from './usage.js';

/**
 * berth.immutabletags, berth.quotas and berth.retention's repositories as the storage services
 * ask them (src/storage/rules.ts): the decisions are immutable.ts's, quota.ts's and
 * retention.ts's, usage is `quotas`'.
 */
export class PolicyRules implements StorageRules {
  constructor(
    private readonly immutableTags: readonly ImmutableTagRule[],
    readonly quotas: QuotaUsage | undefined,
    private readonly retention: readonly RetentionPolicy[] = [],
  ) {}

  immutable(name: string, tag: string): string | undefined {
    const i = immutableRule(this.immutableTags, name, tag);
    return i === undefined ? undefined : describeImmutableRule(this.immutableTags, i);
  }

  protects(name: string): boolean {
    return coversRepository(this.immutableTags, name);
  }

  reserve(name: string, digest: Digest, size: number): Hold | Promise<Hold> {
    return (this.quotas ?? noRules).reserve(name, digest, size);
  }

  serializes(name: string, tag: string): boolean {
    return immutableRule(this.immutableTags, name, tag) !== undefined || policyFor(this.retention, name) !== undefined;
  }
}
