// `sealcode gateway --config FILE [--check-config]`: the admin's mail gateway (docs/gateway.md).
import type { Command } from 'commander';
import type { Groups } from '../program.js';
import { CliError, EXIT } from '../errors.js';
import { action, print } from '../output.js';
import { ConfigError, loadConfig } from '../../gateway/config.js';
import { startGateway } from '../../gateway/service.js';

export function register(program: Command, _groups: Groups): void {
  program
    .command('gateway')
    .description('run the mail gateway: certify incoming IMAP mail, seal outgoing attachments over SMTP')
    .requiredOption('--config <file>', 'the gateway configuration (JSON)')
    .option('--check-config', 'validate the configuration, print a summary and exit')
    .option('--json', 'print the --check-config summary as JSON')
    .action(
      action(async (o: { config: string; checkConfig?: boolean; json?: boolean }) => {
        let cfg;
        try {
          cfg = loadConfig(o.config);
        } catch (e) {
          if (e instanceof ConfigError) throw new CliError(e.message, EXIT.usage, 'CONFIG');
          throw e;
        }
        if (o.checkConfig) {
          const summary = {
            ok: true,
            dataDir: cfg.dataDir,
            imap: cfg.imap.accounts.map((a) => ({ name: a.name, host: a.host, port: a.port, folders: a.folders, quarantine: a.quarantine ?? null })),
            smtp: cfg.smtp ? { listen: cfg.smtp.listen, upstream: { host: cfg.smtp.upstream.host, port: cfg.smtp.upstream.port }, mappings: cfg.smtp.mappings.length } : null,
            status: cfg.status ? (cfg.status.url ? 'url' : 'file') : null,
            admin: cfg.admin ?? null,
          };
          print(o, summary, () =>
            [
              `configuration ${o.config} is valid`,
              `  data folder: ${summary.dataDir}`,
              ...summary.imap.map((a) => `  imap ${a.name}: ${a.host}:${a.port} watching ${a.folders.join(', ')}${a.quarantine ? `, quarantine ${a.quarantine}` : ''}`),
              summary.smtp ? `  smtp: listening on ${summary.smtp.listen.host}:${summary.smtp.listen.port}, relaying to ${summary.smtp.upstream.host}:${summary.smtp.upstream.port}, ${summary.smtp.mappings} mapping(s)` : '  smtp: off',
              `  status list: ${summary.status ?? 'none'}`,
              `  admin: ${summary.admin ? `${summary.admin.host}:${summary.admin.port}` : 'off'}`,
            ].join('\n'),
          );
          return;
        }
        const gw = await startGateway(cfg);
        await new Promise<void>((resolve) => {
          const stop = (sig: string): void => {
            gw.log.info({ signal: sig }, 'stopping');
            resolve();
          };
          process.once('SIGTERM', () => stop('SIGTERM'));
          process.once('SIGINT', () => stop('SIGINT'));
        });
        await gw.stop();
      }),
    );
}
