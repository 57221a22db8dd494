// The one list of command modules. Each exports register(program, groups); add one
// line naming the top-level commands it registers under (a group such as `card`, or
// its own command such as `serve`). Only the modules of the command being run are
// loaded (all of them for the top-level --help), so `sealcode card decrypt` does not
// pay for loading the gateway's or the distributor's libraries.
import type { Command } from 'commander';
import type { Groups } from '../program.js';

type Register = (program: Command, groups: Groups) => void;
interface Entry {
  commands: string[];
  load: () => Promise<{ register: Register }>;
}

const modules: Entry[] = [
  { commands: ['addon'], load: () => import('./addon.js') },
  { commands: ['addon'], load: () => import('./addon-check.js') },
  { commands: ['card'], load: () => import('./card-host.js') },
  { commands: ['init'], load: () => import('./init.js') },
  { commands: ['admin'], load: () => import('./admin.js') },
  { commands: ['card'], load: () => import('./card.js') },
  { commands: ['dedicated'], load: () => import('./dedicated.js') },
  { commands: ['verify'], load: () => import('./verify.js') },
  { commands: ['quickstart'], load: () => import('./quickstart.js') },
  { commands: ['gateway'], load: () => import('./gateway.js') },
  { commands: ['serve'], load: () => import('./serve.js') },
  { commands: ['card', 'dedicated'], load: () => import('./online.js') },
  { commands: ['card'], load: () => import('./token.js') },
  { commands: ['card'], load: () => import('./blind.js') },
];

/** Registers the modules `argv` (the arguments after the script) needs; all when unsure. */
export async function registerCommands(program: Command, groups: Groups, argv?: string[]): Promise<void> {
  const name = argv?.find((a) => !a.startsWith('-'));
  const known = name !== undefined && modules.some((m) => m.commands.includes(name));
  const wanted = modules.filter((m) => !known || m.commands.includes(name));
  const loaded = await Promise.all(wanted.map((m) => m.load()));
  for (const m of loaded) m.register(program, groups);
}
