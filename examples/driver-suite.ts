// The storage driver suite every Berth driver passes, run here against the built-in inmemory
// driver; a plugin author runs it against theirs the same way (docs/extending.md).
import { createDriver } from 'berth';
import { runDriverSuite } from 'berth/testing';

runDriverSuite('inmemory', async () => ({
  driver: await createDriver('inmemory'),
  cleanup: async () => {},
}));
