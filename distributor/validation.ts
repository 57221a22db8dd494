// Names and email addresses enter at the console, the redemption page and the CLI, and
// end up signed into certificates that every `verify` and `decrypt` prints. Control
// characters (C0, DEL, C1) and bidi overrides/isolates would let them rewrite a
// terminal or reorder what it shows, so they are refused at every entrance.
import { z } from 'zod';
import { SealError } from '../card/index.js';
import { hasControlChars } from './control-chars.js';

export { CONTROL_CHARS, hasControlChars, replaceControlChars } from './control-chars.js';

export const PersonName = z
  .string()
  .trim()
  .min(1, 'Type a name.')
  .max(200, 'A name may have at most 200 characters.')
  .check(z.refine((s) => !hasControlChars(s), { message: 'A name must not contain control or text-direction characters.' }));

export const EmailAddress = z
  .string()
  .trim()
  .min(1, 'Type an email address.')
  .max(254, 'An email address may have at most 254 characters.')
  .check(z.refine((s) => !hasControlChars(s), { message: 'An email address must not contain control or text-direction characters.' }))
  .check(z.refine((s) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(s), { message: 'Type a whole email address, like name@example.org.' }));

/** The value, or a USAGE SealError carrying the first problem's sentence. */
export function parseOrRefuse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new SealError('USAGE', r.error.issues[0]?.message ?? 'invalid input');
  return r.data;
}
