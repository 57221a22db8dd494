// How a sealcode attachment is recognised, on both sides of the gateway: by our own
// extension or MIME type only; OpenPGP's .pgp/.asc are someone else's business.
export const SEAL_EXTENSION = '.seal';
export const SEAL_MIME_TYPE = 'application/x-sealcode';
