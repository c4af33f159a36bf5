// berth.retention, berth.quotas and berth.immutabletags as the configuration reads them: the
// issue's example, REGISTRY_BERTH_* overrides, and one line naming the key for each mistake.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';

const BASE = 'version: 0.1\nstorage:\n  inmemory:\nhttp:\n  addr: 127.0.0.1:0\n';

function load(berth: string, env: Record<string, string> = {}) {
  return parseConfig(`${BASE}berth:\n${berth}`, env);
}

describe('policy configuration', () => {
  it('reads the documented example', () => {
    const { config, warnings } = load(`  retention:
    interval: 24h
    dryrun: false
    delay: 24h
    policies:
      - repositories: ["team/**"]
        deleteuntagged: true
        deletereferrers: true
        keeptags:
          - patterns: ["^v[0-9]+\\\\.[0-9]+\\\\.[0-9]+$"]
            mostrecentlypushedcount: 10
            mostrecentlypulledcount: 5
            pushedwithin: 720h
            pulledwithin: 720h
  quotas:
    - repositories: ["team/**"]
      maxbytes: 10GiB
  immutabletags:
    - repositories: ["team/**"]
      tags: ["^v"]
`);
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.retention, {
      intervalMs: 24 * 3600_000,
      dryrun: false,
      delayMs: 24 * 3600_000,
      policies: [
        {
          repositories: ['team/**'],
          deleteUntagged: true,
          deleteReferrers: true,
          keepTags: [{ patterns: ['^v[0-9]+\\.[0-9]+\\.[0-9]+$'], mostRecentlyPushedCount: 10, mostRecentlyPulledCount: 5, pushedWithinMs: 720 * 3600_000, pulledWithinMs: 720 * 3600_000 }],
        },
      ],
    });
    assert.deepEqual(config.quotas, [{ repositories: ['team/**'], maxBytes: 10 * 1024 ** 3, each: false }]);
    assert.deepEqual(config.immutableTags, [{ repositories: ['team/**'], tags: ['^v'] }]);
  });

  it('takes REGISTRY_BERTH_RETENTION_* overrides as for any key', () => {
    const { config } = load('  retention:\n    interval: 24h\n', { REGISTRY_BERTH_RETENTION_DRYRUN: 'true', REGISTRY_BERTH_RETENTION_INTERVAL: '1h' });
    assert.equal(config.retention?.dryrun, true);
    assert.equal(config.retention?.intervalMs, 3600_000);
    assert.equal(config.retention?.delayMs, 24 * 3600_000, 'the default delay');
  });

  it('takes a quota rule without maxbytes as one that only measures', () => {
    const { config } = load('  quotas:\n    - repositories: ["**"]\n');
    assert.deepEqual(config.quotas, [{ repositories: ['**'], each: false }]);
  });

  it('names the key of each mistake', () => {
    const cases: Array<[string, RegExp]> = [
      ['  quotas:\n    - repositories: ["a/*"]\n      maxbytes: lots\n', /^berth\.quotas\[0\]\.maxbytes: expected a size/],
      ['  quotas:\n    - maxbytes: 1GiB\n', /^berth\.quotas\[0\]\.repositories: required/],
      ['  immutabletags:\n    - repositories: ["a/*"]\n      tags: ["(unclosed"]\n', /^berth\.immutabletags\[0\]\.tags\[0\]: invalid regular expression/],
      ['  retention:\n    policies:\n      - keeptags:\n          - mostrecentlypushedcount: -1\n', /^berth\.retention\.policies\[0\]\.keeptags\[0\]\.mostrecentlypushedcount: expected a whole number/],
      ['  retention:\n    delay: soon\n', /^berth\.retention\.delay: expected a duration/],
      ['  retention:\n    dryrun: maybe\n', /^berth\.retention\.dryrun: expected true or false/],
    ];
    for (const [yaml, expected] of cases) assert.throws(() => load(yaml), (err: Error) => expected.test(err.message), yaml);
  });

  it('warns of a key it does not know', () => {
    const { warnings } = load('  quotas:\n    - repositories: ["a/*"]\n      maxbytes: 1GiB\n      maxbites: 2\n');
    assert.deepEqual(warnings, ['berth.quotas[0].maxbites: unknown key, ignored']);
  });
});
