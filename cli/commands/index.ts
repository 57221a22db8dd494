// The one list of command modules. Each exports register(program, groups).
import type { Command } from 'commander';
import type { Groups } from '../program.js';
import { register as addon } from './addon.js';
import { register as cardHost } from './card-host.js';

type Register = (program: Command, groups: Groups) => void;
const modules: Register[] = [addon, cardHost];

export function registerCommands(program: Command, groups: Groups): void {
  for (const r of modules) r(program, groups);
}
