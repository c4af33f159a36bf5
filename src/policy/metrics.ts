import { sampledGaugeFamily } from '../metrics/registry.js';
import type { QuotaUsage } from './usage.js';

/**
 * Storage used per repository, and per quota rule with its limit, as Prometheus gauges read from
 * QuotaUsage at scrape time (docs/policy.md, "Metrics"): the repositories a berth.quotas rule
 * covers (a rule without maxbytes measures without limiting). With workers, every worker keeps
 * the same figures, so the primary takes the largest of their copies rather than their sum.
 * Returns the function that stops serving them.
 */
export function serveQuotaMetrics(usage: QuotaUsage): () => void {
  const repository = sampledGaugeFamily('berth_repository_storage_bytes', 'Bytes a repository links (each distinct blob and manifest once), for the repositories a berth.quotas rule covers', ['repository'], 'max');
  const used = sampledGaugeFamily('berth_quota_used_bytes', "Bytes counted against a berth.quotas rule: shared by its repositories, or with each: true its fullest repository's", ['rule'], 'max');
  const limit = sampledGaugeFamily('berth_quota_limit_bytes', 'The limit of a berth.quotas rule (maxbytes), for rules that have one', ['rule'], 'max');
  const removers = [
    repository.addSource(() => usage.repositories().map(([name, bytes]) => ({ labels: [name], value: bytes }))),
    used.addSource(() => usage.report().map((r) => ({ labels: [ruleLabel(r.rule)], value: Math.max(0, ...r.usage.map((u) => u.used)) }))),
    limit.addSource(() => usage.report().flatMap((r) => (r.limit === undefined ? [] : [{ labels: [ruleLabel(r.rule)], value: r.limit }]))),
  ];
  return () => removers.forEach((remove) => remove());
}

function ruleLabel(index: number): string {
  return `berth.quotas[${index}]`;
}
