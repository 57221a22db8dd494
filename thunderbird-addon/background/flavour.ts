// Fixed at build time by esbuild's `define`.
declare const __FLAVOUR__: 'purchaser' | 'dedicated';
export const FLAVOUR: 'purchaser' | 'dedicated' = __FLAVOUR__;
