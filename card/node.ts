// Node-only additions to the card package.
export { nodePrimitives } from './container/primitives-node.js';
export { nodeCipher } from './container/aead-node.js';
export { useNativeEd25519Signing, useNativeEd25519Verify, nativeEd25519Signer } from './ed25519-node.js';
export { useNativeScrypt } from './scrypt-node.js';
