// Loaded with `node --import` (NODE_OPTIONS): registers module-log-hooks.mjs.
import { register } from 'node:module';

register('./module-log-hooks.mjs', import.meta.url);
