// The card package: the format, the keys and the policy. Pure TypeScript for Node and
// browsers alike; Node-only fast paths live in node.ts.
export * from './errors.js';
export * from './bytes.js';
export * from './codes.js';
export * from './keys.js';
export * from './certs.js';
export * from './stanza.js';
export * from './party.js';
export * from './policy.js';
export * from './status.js';
export * from './container/header.js';
export * from './container/meta.js';
export * from './container/aead.js';
export * from './container/primitives.js';
export * from './container/source.js';
export * from './container/seal.js';
export * from './container/open.js';
export * from './cardfile.js';
export * from './profile.js';
export * from './pairkey.js';
export * from './issuer.js';
export * from './keyops.js';
export * from './blind.js';
export * from './blind-profile.js';
export * from './tokencard.js';
