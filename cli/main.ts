// Entry point of bin/sealcode.js.
import { CommanderError } from 'commander';
import { EXIT } from './errors.js';
import { buildProgram, GROUP_NAMES } from './program.js';
import { modulesFor } from './commands/index.js';

const argv = process.argv.slice(2);
// The root --help needs no cryptography; every command does. Native Ed25519 signing and
// scrypt give the same bytes as the pure-JS paths (both are deterministic), several
// times faster; native Ed25519 checks give the same verdicts (a "no" is re-checked).
if (modulesFor(argv, GROUP_NAMES) !== 'placeholders') {
  const [{ useNativeEd25519Signing, useNativeEd25519Verify }, { useNativeScrypt }] = await Promise.all([
    import('../card/ed25519-node.js'),
    import('../card/scrypt-node.js'),
  ]);
  useNativeEd25519Signing();
  useNativeEd25519Verify();
  useNativeScrypt();
}

try {
  await (await buildProgram(argv)).parseAsync(process.argv);
} catch (err) {
  if (!(err instanceof CommanderError)) throw err;
  // --help and --version exit 0; anything else commander rejects is bad usage.
  process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
}
