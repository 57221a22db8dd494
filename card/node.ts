// Node-only additions to the card package.
export { nodePrimitives } from './container/primitives-node.js';
export { nodeCipher } from './container/aead-node.js';
