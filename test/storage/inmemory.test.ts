import { createDriver } from '../../src/storage/driver/factory.js';
import { runDriverSuite } from './driver-suite.js';

runDriverSuite('inmemory', async () => ({
  driver: await createDriver('inmemory', {}),
  cleanup: async () => undefined,
}));
