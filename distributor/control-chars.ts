// Control characters (C0, DEL, C1) and bidi overrides/isolates, which would let a name
// rewrite a terminal or reorder what it shows. Kept apart from validation.ts so that the
// CLI can clean what it prints without loading zod (~0.1 s and ~14 MB per command).
export const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const CONTROL_CHARS_G = new RegExp(CONTROL_CHARS.source, 'g');

export const hasControlChars = (s: string): boolean => CONTROL_CHARS.test(s);

/** `s` with every control or bidi character replaced by `by(char)`. */
export const replaceControlChars = (s: string, by: (c: string) => string): string => s.replace(CONTROL_CHARS_G, by);
