// A registry inside this process: inmemory storage on 127.0.0.1, a free port, no logs.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startRegistry } from 'berth';

const registry = await startRegistry();
try {
  // Push a blob (POST, then PUT with its digest) and read it back, as any OCI client would.
  const data = new TextEncoder().encode('hello, registry');
  const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  const upload = await fetch(`${registry.url}/v2/demo/app/blobs/uploads/`, { method: 'POST' });
  const location = new URL(upload.headers.get('location')!, registry.url);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', body: data });
  assert.equal(put.status, 201);

  const get = await fetch(`${registry.url}/v2/demo/app/blobs/${digest}`);
  assert.equal(await get.text(), 'hello, registry');
  console.log(`served ${digest} from ${registry.url}`);
} finally {
  await registry.close();
}
