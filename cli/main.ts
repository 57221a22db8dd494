// Entry point of bin/sealcode.js. Only early-card-key.js is imported statically: the
// card file's scrypt starts before anything else loads (see there).
import { startCardKey } from './early-card-key.js';

const argv = process.argv.slice(2);
startCardKey(argv);

const [{ CommanderError }, { EXIT }, { buildProgram, GROUP_NAMES }, { modulesFor }] = await Promise.all([
  import('commander'),
  import('./errors.js'),
  import('./program.js'),
  import('./commands/index.js'),
]);
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
