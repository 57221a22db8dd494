// The one list of command modules. Each exports register(program, groups).
import type { Command } from 'commander';
import type { Groups } from '../program.js';

type Register = (program: Command, groups: Groups) => void;
const modules: Register[] = [];

export function registerCommands(program: Command, groups: Groups): void {
  for (const r of modules) r(program, groups);
}
