import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createDriver } from '../../src/storage/driver/factory.js';
import { runDriverSuite } from './driver-suite.js';

runDriverSuite('filesystem', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'berth-fs-suite-'));
  return {
    driver: await createDriver('filesystem', { rootdirectory: root }),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});
