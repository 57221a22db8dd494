// `node --import ./module-list.mjs`: prints `LOADED <url>` on stderr for every ES module
// (and CommonJS module imported from one) the process loads, in load order.
import { register } from 'node:module';

register('./module-list-hooks.mjs', import.meta.url);
