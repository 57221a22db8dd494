// The one list of command modules. Each exports register(program, groups).
import type { Command } from 'commander';
import type { Groups } from '../program.js';
import { register as addon } from './addon.js';
import { register as cardHost } from './card-host.js';
import { register as init } from './init.js';
import { register as admin } from './admin.js';
import { register as card } from './card.js';
import { register as dedicated } from './dedicated.js';
import { register as verify } from './verify.js';
import { register as quickstart } from './quickstart.js';
import { register as gateway } from './gateway.js';
import { register as serve } from './serve.js';
import { register as online } from './online.js';

type Register = (program: Command, groups: Groups) => void;
const modules: Register[] = [addon, cardHost, init, admin, card, dedicated, verify, quickstart, gateway, serve, online];

export function registerCommands(program: Command, groups: Groups): void {
  for (const r of modules) r(program, groups);
}
