import { reportingDriver } from '../../src/storage/changes.js';
import { createDriver } from '../../src/storage/driver/factory.js';
import { runDriverSuite } from '../../src/testing/index.js';

runDriverSuite('inmemory', async () => ({
  driver: await createDriver('inmemory', {}),
  cleanup: async () => undefined,
}), { writeBorrowed: true });

// The storage services write through the driver wrapped to report their writes (Registry.driver):
// wrapped, it is still a driver in every respect.
runDriverSuite('inmemory, reporting its writes', async () => ({
  driver: reportingDriver(await createDriver('inmemory', {}), async () => undefined),
  cleanup: async () => undefined,
}), { writeBorrowed: true });
