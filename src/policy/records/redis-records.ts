import type { Redis } from 'ioredis';
import type { ManifestRecord, RecordDelta, RecordStore } from './store.js';

/**
 * Records in Redis, shared by every instance: one hash per repository (`berth:records:<name>`)
 * with three fields per digest (`<digest>|pushed`, `<digest>|pulled` in ms, `<digest>|pulls`).
 * A batch is merged by one script, atomically: times move only forward and counts add, so
 * instances flushing at once lose nothing.
 */
const MERGE = `
for i = 1, #ARGV, 4 do
  local d = ARGV[i]
  for j, field in ipairs({'pushed', 'pulled'}) do
    local v = ARGV[i + j]
    if v ~= '' then
      local cur = redis.call('hget', KEYS[1], d .. '|' .. field)
      if not cur or tonumber(cur) < tonumber(v) then redis.call('hset', KEYS[1], d .. '|' .. field, v) end
    end
  end
  local n = tonumber(ARGV[i + 3])
  if n > 0 then redis.call('hincrby', KEYS[1], d .. '|pulls', n) end
end
return 1`;

const FIELDS = ['pushed', 'pulled', 'pulls'] as const;

export class RedisRecords implements RecordStore {
  constructor(private readonly client: Redis) {}

  private key(name: string): string {
    return `berth:records:${name}`;
  }

  async merge(name: string, deltas: ReadonlyMap<string, RecordDelta>): Promise<void> {
    const args: string[] = [];
    for (const [digest, d] of deltas) args.push(digest, d.pushed === null ? '' : String(d.pushed), d.pulled === null ? '' : String(d.pulled), String(d.pulls));
    if (args.length > 0) await this.client.eval(MERGE, 1, this.key(name), ...args);
  }

  async read(name: string): Promise<Map<string, ManifestRecord>> {
    const fields = await this.client.hgetall(this.key(name));
    const out = new Map<string, ManifestRecord>();
    for (const [field, value] of Object.entries(fields)) {
      const bar = field.lastIndexOf('|');
      const digest = field.slice(0, bar);
      const which = field.slice(bar + 1);
      const n = Number(value);
      if (bar < 0 || !Number.isFinite(n)) continue;
      let r = out.get(digest);
      if (!r) out.set(digest, (r = { pushed: null, pulled: null, pulls: 0 }));
      if (which === 'pushed') r.pushed = n;
      else if (which === 'pulled') r.pulled = n;
      else if (which === 'pulls') r.pulls = n;
    }
    return out;
  }

  async forget(name: string, digests?: readonly string[]): Promise<void> {
    if (!digests) await this.client.del(this.key(name));
    else if (digests.length > 0) await this.client.hdel(this.key(name), ...digests.flatMap((d) => FIELDS.map((f) => `${d}|${f}`)));
  }
}
