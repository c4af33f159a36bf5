// The client library and the shared grammar stand apart from the server: every import under
// src/client/ stays in src/client/ or src/oci/, every import under src/oci/ stays in src/oci/,
// and neither takes a package other than Node's own modules. A server module imported by the
// client would also be shipped to and run by every program that only wants a client.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/registry.js';

const SRC = path.join(REPO_ROOT, 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Every module specifier: static imports, re-exports, `import type`, dynamic import() and require(). */
export function specifiers(source: string): string[] {
  const out: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\s[^'"`;]*?\sfrom\s*['"]([^'"]+)['"]/gms,
    /^\s*import\s*['"]([^'"]+)['"]/gm,
    /\bimport\s*\(\s*['"`]([^'"`]+)['"`]\s*\)/g,
    /\brequire\s*\(\s*['"`]([^'"`]+)['"`]\s*\)/g,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) out.push(m[1]!);
  return out;
}

/** What is wrong with the imports of `file`, allowed to reach only the folders in `allowed`. */
function violations(file: string, source: string, allowed: string[]): string[] {
  const bad: string[] = [];
  for (const spec of specifiers(source)) {
    if (spec.startsWith('.')) {
      const target = path.resolve(path.dirname(file), spec);
      if (!allowed.some((dir) => target.startsWith(dir + path.sep))) bad.push(`${path.relative(REPO_ROOT, file)} imports ${spec}`);
    } else if (!spec.startsWith('node:')) {
      bad.push(`${path.relative(REPO_ROOT, file)} imports the package ${spec}`);
    }
  }
  return bad;
}

const OCI = path.join(SRC, 'oci');
const CLIENT = path.join(SRC, 'client');

describe('import boundaries', () => {
  it('src/oci imports only src/oci and node: modules', () => {
    const list = files(OCI);
    assert.ok(list.length >= 5);
    assert.deepEqual(list.flatMap((f) => violations(f, readFileSync(f, 'utf8'), [OCI])), []);
  });

  it('src/client imports only src/client, src/oci and node: modules', () => {
    const list = files(CLIENT);
    assert.ok(list.length >= 10);
    assert.deepEqual(list.flatMap((f) => violations(f, readFileSync(f, 'utf8'), [CLIENT, OCI])), []);
  });

  it('the check catches each form of import that leaves the allowed folders', () => {
    const file = path.join(CLIENT, 'remote', 'x.ts');
    const source = [
      "import { parseConfig } from '../../config/load.js';",
      "import type { Driver } from '../../storage/driver/types.js';",
      "export { startServer } from '../../api/server.js';",
      "import {\n  a,\n  b,\n} from '../../auth/scope.js';",
      "const m = await import('../../redis/client.js');",
      "import 'pino';",
      "import { x } from '../errors.js';",
      "import { y } from '../../oci/digest.js';",
      "import http from 'node:http';",
    ].join('\n');
    assert.deepEqual(violations(file, source, [CLIENT, OCI]), [
      'src/client/remote/x.ts imports ../../config/load.js',
      'src/client/remote/x.ts imports ../../storage/driver/types.js',
      'src/client/remote/x.ts imports ../../api/server.js',
      'src/client/remote/x.ts imports ../../auth/scope.js',
      'src/client/remote/x.ts imports the package pino',
      'src/client/remote/x.ts imports ../../redis/client.js',
    ]);
  });
});
