// Entry point of bin/sealcode.js.
import { CommanderError } from 'commander';
import { EXIT } from './errors.js';
import { buildProgram } from './program.js';
import { useNativeEd25519Signing } from '../card/ed25519-node.js';

// Same signatures as the pure-JS path (Ed25519 is deterministic), several times faster.
useNativeEd25519Signing();

try {
  await (await buildProgram(process.argv.slice(2))).parseAsync(process.argv);
} catch (err) {
  if (!(err instanceof CommanderError)) throw err;
  // --help and --version exit 0; anything else commander rejects is bad usage.
  process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
}
