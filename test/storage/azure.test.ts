import { after, before } from 'node:test';
import { createDriver } from '../../src/storage/driver/factory.js';
import { runDriverSuite } from '../../src/testing/index.js';
import { AZURITE_ACCOUNT as ACCOUNT, AZURITE_KEY as KEY, startAzurite, type Azurite } from '../helpers/azurite.js';

let azurite: Azurite;
let url: string;
before(async () => {
  azurite = await startAzurite();
  url = azurite.url;
});
after(async () => {
  await azurite?.stop();
});

const container = () => azurite.container();

runDriverSuite('azure (azurite)', async () => {
  const driver = await createDriver('azure', { accountname: ACCOUNT, accountkey: KEY, container: await container(), serviceurl: url });
  return { driver, cleanup: async () => undefined };
}, { listFiles: true, writeBorrowed: true });

runDriverSuite('azure (azurite) with rootdirectory', async () => {
  const driver = await createDriver('azure', { accountname: ACCOUNT, accountkey: KEY, container: await container(), serviceurl: url, rootdirectory: '/reg/' });
  return { driver, cleanup: async () => undefined };
}, { listFiles: true, writeBorrowed: true });
