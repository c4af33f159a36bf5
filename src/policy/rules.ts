import type { ImmutableTagRule } from '../config/types.js';
import type { Digest } from '../oci/digest.js';
import { noRules, type Hold, type StorageRules } from '../storage/rules.js';
import { coversRepository, describeImmutableRule, immutableRule } from './immutable.js';
import type { QuotaUsage } from './usage.js';

/**
 * berth.immutabletags and berth.quotas as the storage services ask them (src/storage/rules.ts):
 * the decisions are immutable.ts's and quota.ts's, usage is `quotas`'.
 */
export class PolicyRules implements StorageRules {
  constructor(
    private readonly immutableTags: readonly ImmutableTagRule[],
    readonly quotas: QuotaUsage | undefined,
  ) {}

  immutable(name: string, tag: string): string | undefined {
    const i = immutableRule(this.immutableTags, name, tag);
    return i === undefined ? undefined : describeImmutableRule(this.immutableTags, i);
  }

  protects(name: string): boolean {
    return coversRepository(this.immutableTags, name);
  }

  reserve(name: string, digest: Digest, size: number): Hold {
    return (this.quotas ?? noRules).reserve(name, digest, size);
  }
}
