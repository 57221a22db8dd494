// The `sealcode` program: one commander tree whose subcommands front every component.
// Each file in commands/ registers its own subcommands on the groups created here.
import { Command } from 'commander';
import { registerCommands } from './commands/index.js';

export const GROUP_NAMES = ['admin', 'card', 'dedicated', 'addon'] as const;

export interface Groups {
  admin: Command;
  card: Command;
  dedicated: Command;
  addon: Command;
}

/** The program; with `argv` (arguments after the script), only the commands it needs. */
export async function buildProgram(argv?: string[]): Promise<Command> {
  const program = new Command('sealcode')
    .description('Sealed mail attachments between card holders and the people they hand one-time codes to')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  const groups: Groups = {
    admin: program.command('admin').description("the seller's administration: cards, codes, redemptions"),
    card: program.command('card').description("a purchaser's card: codes, sealing and opening, the native host"),
    dedicated: program.command('dedicated').description('a dedicated profile or build: sealing and opening for its purchaser'),
    addon: program.command('addon').description('the Thunderbird add-on: stamping dedicated builds'),
  };
  for (const g of Object.values(groups)) g.exitOverride().showHelpAfterError();
  await registerCommands(program, groups, argv);
  return program;
}
