import { createDriver } from '../../src/storage/driver/factory.js';
import { runDriverSuite } from '../../src/testing/index.js';

runDriverSuite('inmemory', async () => ({
  driver: await createDriver('inmemory', {}),
  cleanup: async () => undefined,
}));
