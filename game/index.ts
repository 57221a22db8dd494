// Correspondence chess over sealed mail (patent Fig. 7, claim 6): the move format and
// the chain rules, on top of the card package. Pure TypeScript for Node and the add-on.
export * from './format.js';
export * from './sealed.js';
export * from './chain.js';
