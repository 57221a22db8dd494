// The one list of command modules. Each exports register(program, groups); its entry
// names what it registers: subcommands of a group (`card`, `admin`, …) or a top-level
// command with the one-line description the root --help shows. Only the modules of the
// command being run are loaded, and none for the root --help, so `sealcode card info`
// does not pay for the gateway's or the distributor's libraries. tests/cli/usage.test.ts
// checks these lists against what each module really registers.
import type { Command } from 'commander';
import type { Groups } from '../program.js';

type Register = (program: Command, groups: Groups) => void;
export interface Entry {
  /** Subcommands this module adds, per group. */
  subcommands?: Partial<Record<keyof Groups, string[]>>;
  /** A top-level command this module adds, and its description. */
  command?: { name: string; description: string };
  load: () => Promise<{ register: Register }>;
}

export const modules: Entry[] = [
  { subcommands: { addon: ['stamp'] }, load: () => import('./addon.js') },
  { subcommands: { addon: ['check'] }, load: () => import('./addon-check.js') },
  { subcommands: { card: ['host'] }, load: () => import('./card-host.js') },
  { subcommands: { card: ['sync'] }, load: () => import('./card-sync.js') },
  {
    command: { name: 'init', description: "create the seller's data folder: database, master key, issuer key (idempotent)" },
    load: () => import('./init.js'),
  },
  { subcommands: { admin: ['issue-card', 'sell-codes', 'redeem', 'end-sessions'] }, load: () => import('./admin.js') },
  { subcommands: { card: ['info', 'codes', 'import-codes', 'encrypt', 'decrypt'] }, load: () => import('./card.js') },
  { subcommands: { dedicated: ['complete', 'encrypt', 'decrypt'] }, load: () => import('./dedicated.js') },
  {
    command: { name: 'verify', description: 'certify who sealed a file and with what, without any secret key (as the gateway does)' },
    load: () => import('./verify.js'),
  },
  {
    command: {
      name: 'quickstart',
      description: 'initialise a data folder and run the whole flow once: card, code, redemption, sealed files both ways',
    },
    load: () => import('./quickstart.js'),
  },
  {
    command: { name: 'gateway', description: 'run the mail gateway: certify incoming IMAP mail, seal outgoing attachments over SMTP' },
    load: () => import('./gateway.js'),
  },
  {
    command: { name: 'serve', description: 'serve the redemption page, downloads, the card API and the seller console' },
    load: () => import('./serve.js'),
  },
  {
    command: { name: 'db', description: "the seller's database: move it from SQLite to PostgreSQL" },
    load: () => import('./db.js'),
  },
  {
    subcommands: { card: ['charge', 'pair', 'import-pair', 'statement'], dedicated: ['copy-right'] },
    load: () => import('./online.js'),
  },
  { subcommands: { card: ['token-info', 'token-unlock'] }, load: () => import('./token.js') },
  { subcommands: { card: ['blind', 'cert', 'blind-part'] }, load: () => import('./blind.js') },
  {
    command: { name: 'game', description: 'correspondence chess by sealed move files, between a card and a dedicated build of its code' },
    load: () => import('./game.js'),
  },
];

/** The entries `argv` (the arguments after the script) needs: none for the root help, all when unsure. */
export function modulesFor(argv: string[], groups: readonly string[]): Entry[] | 'placeholders' {
  const words = argv.filter((a) => !a.startsWith('-'));
  const [name, sub] = words;
  if (name === undefined) return 'placeholders';
  if (groups.includes(name)) {
    const of = (m: Entry): string[] | undefined => m.subcommands?.[name as keyof Groups];
    const exact = modules.filter((m) => sub !== undefined && of(m)?.includes(sub));
    return exact.length ? exact : modules.filter((m) => of(m) !== undefined);
  }
  const top = modules.filter((m) => m.command?.name === name);
  return top.length ? top : modules;
}

/** Registers the modules `argv` needs; without argv, all of them. */
export async function registerCommands(program: Command, groups: Groups, argv?: string[]): Promise<void> {
  const wanted = argv ? modulesFor(argv, Object.keys(groups)) : modules;
  if (wanted === 'placeholders') {
    // The root help lists every command; its description is all it needs of each.
    for (const m of modules) if (m.command) program.command(m.command.name).description(m.command.description);
    return;
  }
  const loaded = await Promise.all(wanted.map((m) => m.load()));
  for (const m of loaded) m.register(program, groups);
}
