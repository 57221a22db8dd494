// The one MIME walk of the IMAP side: what it finds, how it reads malformed shapes
// (mailparser's reading is the reference), that the way the bytes arrive (one piece or
// many, cut anywhere) changes nothing, and that every limit is reported, never silent.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { simpleParser } from 'mailparser';
import { MimeWalker, collectingSink, type Leaf } from '../../gateway/imap/walk.js';
import { Base64Decoder, QuotedPrintableDecoder } from '../../gateway/imap/transfer.js';
import { parseStructured } from '../../gateway/mime.js';
import type { Limits } from '../../gateway/verdict.js';

const LIMITS: Limits = { maxParts: 1000, maxDepth: 32, maxBytes: 100 * 1024 * 1024, maxHeaderBytes: 1024 * 1024 };

interface Found {
  seals: { part: string; filename?: string; data: string }[];
  unsealed: Leaf[];
  exceeded?: string;
  messageId?: string;
  from?: string;
}

/** Walks `raw` fed in pieces of the given sizes (cycled), or whole. */
async function walk(raw: Buffer | string, pieces: number[] = [], limits = LIMITS): Promise<Found> {
  const src = Buffer.isBuffer(raw) ? raw : Buffer.from(raw, 'latin1');
  const sinks: ReturnType<typeof collectingSink>[] = [];
  const w = new MimeWalker(limits, () => {
    const s = collectingSink();
    sinks.push(s);
    return s;
  });
  if (pieces.length === 0) await w.write(src);
  else for (let p = 0, k = 0; p < src.length; p += pieces[k++ % pieces.length]!) if (!(await w.write(src.subarray(p, p + pieces[k % pieces.length]!)))) break;
  const r = await w.end();
  const kept = sinks.filter((s) => !s.aborted);
  return {
    seals: r.seals.map((l, i) => ({ part: l.part, filename: l.filename, data: kept[i]!.data().toString('latin1') })),
    unsealed: r.unsealed,
    exceeded: r.exceeded,
    messageId: r.messageId,
    from: r.from,
  };
}

/** What mailparser makes of the sealcode attachments of a message. */
async function reference(raw: string): Promise<string[]> {
  const m = await simpleParser(Buffer.from(raw, 'latin1'));
  return m.attachments.filter((a) => a.contentType === 'application/x-sealcode' || /\.seal$/i.test(a.filename ?? '')).map((a) => a.content.toString('latin1'));
}

const H = 'From: "Bob" <bob@example.test>\r\nMessage-ID: <m1@x>\r\nSubject: s\r\nMIME-Version: 1.0\r\n';
const seal = (name: string, body: string, cte = ''): string =>
  `Content-Type: application/x-sealcode; name="${name}"\r\n${cte ? `Content-Transfer-Encoding: ${cte}\r\n` : ''}\r\n${body}`;

describe('MIME walk: what it finds', () => {
  it('finds seals nested, LF-only, single-part, by type or by name; other attachments are counted', async () => {
    const b64 = Buffer.from('SEALCODE-bytes').toString('base64');
    const nested =
      H + 'Content-Type: multipart/mixed; boundary="o"\r\n\r\n--o\r\n' +
      'Content-Type: multipart/alternative; boundary="i"\r\n\r\n--i\r\nContent-Type: text/plain\r\n\r\nhi\r\n--i\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n--i--\r\n' +
      '--o\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="x.pdf.SEAL"\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
      b64 + '\r\n--o\r\nContent-Type: application/pgp-encrypted; name="y.pgp"\r\n\r\nnot ours\r\n--o--\r\n';
    const r = await walk(nested);
    expect(r.seals).toEqual([{ part: '2', filename: 'x.pdf.SEAL', data: 'SEALCODE-bytes' }]);
    expect(r.unsealed).toEqual([{ part: '3', filename: 'y.pgp', contentType: 'application/pgp-encrypted' }]);
    expect(r).toMatchObject({ messageId: '<m1@x>', from: 'bob@example.test' });
    const lf = 'From: a@b\nContent-Type: multipart/mixed; boundary=z\n\n--z\nContent-Type: application/x-sealcode\nContent-Transfer-Encoding: base64\n\n' + b64 + '\n--z--\n';
    expect((await walk(lf)).seals.map((s) => s.data)).toEqual(['SEALCODE-bytes']);
    const single = 'From: a@b\r\nContent-Type: application/x-sealcode\r\nContent-Transfer-Encoding: base64\r\n\r\n' + b64;
    expect((await walk(single)).seals.map((s) => [s.part, s.data])).toEqual([['1', 'SEALCODE-bytes']]);
    for (const junk of ['', '\r\n', 'no headers at all', 'Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n']) {
      const j = await walk(junk);
      expect(j.seals).toEqual([]);
      expect(j.exceeded).toBeUndefined();
    }
  });

  it('counts as attachment-like: any non-text part (an inline image with only a Content-ID too), named or attachment-disposed text, a multipart without boundary', async () => {
    const m =
      H + 'Content-Type: multipart/related; boundary=r\r\n\r\n--r\r\nContent-Type: text/html\r\n\r\n<img src="cid:i1">\r\n' +
      '--r\r\nContent-Type: image/png\r\nContent-ID: <i1>\r\n\r\nPNG\r\n' +
      '--r\r\nContent-Type: text/plain; name="notes.txt"\r\n\r\nnotes\r\n' +
      '--r\r\nContent-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nx\r\n' +
      '--r\r\nContent-Type: text/plain\r\nContent-Disposition: inline\r\n\r\nbody two\r\n' +
      '--r\r\nContent-Type: multipart/mixed\r\n\r\nunsplittable\r\n' +
      '--r\r\nContent-Type: text/calendar\r\n\r\nBEGIN:VCALENDAR\r\n--r--\r\n';
    const r = await walk(m);
    expect(r.unsealed.map((l) => [l.part, l.contentType])).toEqual([
      ['2', 'image/png'],
      ['3', 'text/plain'],
      ['4', 'text/plain'],
      ['6', 'multipart/mixed'],
      ['7', 'text/calendar'],
    ]);
  });

  it('walks into forwarded messages (message/rfc822) at any depth', async () => {
    let inner = H + 'Content-Type: multipart/mixed; boundary=d0\r\n\r\n--d0\r\n' + seal('deep.seal', 'DEEP') + '\r\n--d0--\r\n';
    for (let i = 1; i <= 5; i++)
      inner = `${H}Content-Type: multipart/mixed; boundary=f${i}\r\n\r\n--f${i}\r\nContent-Type: text/plain\r\n\r\nfwd ${i}\r\n--f${i}\r\nContent-Type: message/rfc822\r\n\r\n${inner}\r\n--f${i}--\r\n`;
    const r = await walk(inner);
    expect(r.seals.map((s) => [s.filename, s.data])).toEqual([['deep.seal', 'DEEP']]);
    expect(r.unsealed).toEqual([]);
  });

  const qp = (s: string): string =>
    Buffer.from(s, 'latin1').toString('latin1').replace(/[=\x80-\xff]/g, (c) => '=' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')).replace(/([^\r\n]{70})/g, '$1=\r\n');
  const forwardAs = (cte: string, body: string, inner = 'e'): string =>
    `${H}Content-Type: multipart/mixed; boundary=${inner}\r\n\r\n--${inner}\r\nContent-Type: text/plain\r\n\r\nsee below\r\n--${inner}\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: ${cte}\r\n\r\n${body}\r\n--${inner}--\r\n`;
  const original = H + 'Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: text/plain\r\n\r\nhi\r\n--o\r\n' + seal('in.seal', Buffer.from('INNER=SEAL\x00\xff', 'latin1').toString('base64'), 'base64') + '\r\n--o\r\nContent-Type: image/png\r\n\r\nPNG\r\n--o--\r\n';

  it('walks into a forwarded message whose own body is base64 or quoted-printable, whatever the cuts', async () => {
    const b64 = Buffer.from(original, 'latin1').toString('base64').replace(/(.{76})/g, '$1\r\n');
    for (const raw of [forwardAs('base64', b64), forwardAs('quoted-printable', qp(original)), forwardAs('Base64 (as forwarded)', b64), forwardAs('8bit', original), forwardAs('x-unknown', original)]) {
      const r = await walk(raw);
      expect(r.seals.map((s) => [s.part, s.filename, s.data]), raw.slice(180, 260)).toEqual([['2.2', 'in.seal', 'INNER=SEAL\x00\xff']]);
      expect(r.unsealed).toEqual([{ part: '2.3', contentType: 'image/png' }]);
      for (const n of [1, 7, 100]) expect(await walk(raw, [n]), `pieces of ${n}`).toEqual(r);
    }
    // Forwarded twice, each time base64-encoded.
    const twice = forwardAs('base64', Buffer.from(forwardAs('base64', b64), 'latin1').toString('base64').replace(/(.{76})/g, '$1\r\n'), 'w');
    expect((await walk(twice)).seals.map((s) => [s.part, s.data])).toEqual([['2.2.2', 'INNER=SEAL\x00\xff']]);
  });

  it('a limit reached inside an encoded forwarded message stops the whole walk and withdraws the seal it cut', async () => {
    const b64 = Buffer.from(original, 'latin1').toString('base64').replace(/(.{76})/g, '$1\r\n');
    const raw = forwardAs('base64', b64);
    // the message, its text, the forwarded message, the message in it, its text, the seal, the image = 7
    expect((await walk(raw, [], { ...LIMITS, maxParts: 7 })).exceeded).toBeUndefined();
    expect(await walk(raw, [], { ...LIMITS, maxParts: 6 })).toMatchObject({ exceeded: 'parts', seals: [{ filename: 'in.seal' }], unsealed: [] });
    expect(await walk(raw, [], { ...LIMITS, maxParts: 5 })).toMatchObject({ exceeded: 'parts', seals: [] });
    expect(await walk(raw, [50], { ...LIMITS, maxDepth: 2 })).toMatchObject({ exceeded: 'depth', seals: [] });
    expect((await walk(raw, [], { ...LIMITS, maxDepth: 3 })).exceeded).toBeUndefined();
    // The size limit cuts the forwarded message in the middle of its seal: withdrawn, not judged.
    const big = original.replace(Buffer.from('INNER=SEAL\x00\xff', 'latin1').toString('base64'), Buffer.alloc(3000, 'S').toString('base64'));
    const bigRaw = forwardAs('base64', Buffer.from(big, 'latin1').toString('base64').replace(/(.{76})/g, '$1\r\n'));
    expect((await walk(bigRaw, [64])).seals).toHaveLength(1);
    expect(await walk(bigRaw, [64], { ...LIMITS, maxBytes: Math.floor(bigRaw.length / 2) })).toMatchObject({ exceeded: 'size', seals: [] });
  });

  it('an attached message named *.seal is judged as a seal (as the add-on opens it), not walked', async () => {
    const named = `${H}Content-Type: multipart/mixed; boundary=e\r\n\r\n--e\r\nContent-Type: message/rfc822; name="invoice.pdf.seal"\r\n\r\n${original}\r\n--e--\r\n`;
    const r = await walk(named);
    expect(r.seals.map((x) => [x.part, x.filename])).toEqual([['1', 'invoice.pdf.seal']]);
    expect(r.seals[0]!.data.startsWith(original.slice(0, 200))).toBe(true);
  });

  it('in a multipart/digest, a part without Content-Type is a forwarded message (RFC 2046), walked', async () => {
    const digest = `${H}Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\n${original}\r\n--d--\r\n`;
    expect((await walk(digest)).seals.map((s) => [s.part, s.data])).toEqual([['1.2', 'INNER=SEAL\x00\xff']]);
  });
});

describe('MIME walk: malformed shapes read as mailparser reads them', () => {
  const shapes: Record<string, string> = {
    'missing closing delimiter': H + 'Content-Type: multipart/mixed; boundary=abc\r\n\r\n--abc\r\nContent-Type: text/plain\r\n\r\nbody\r\n--abc\r\n' + seal('a.seal', 'DATA\r\nMORE\r\n'),
    'boundary parameter followed by a comment': H + 'Content-Type: multipart/mixed; boundary=abc (a comment)\r\n\r\n--abc\r\n' + seal('a.seal', 'DATA') + '\r\n--abc--\r\n',
    'quoted boundary followed by a comment': H + 'Content-Type: multipart/mixed; boundary="abc" (a comment)\r\n\r\n--abc\r\n' + seal('a.seal', 'DATA') + '\r\n--abc--\r\n',
    'a comment in the type': H + 'Content-Type: multipart/mixed (c); boundary=abc\r\n\r\n--abc\r\n' + seal('a.seal', 'DATA') + '\r\n--abc--\r\n',
    'base64 with padding mid-stream': H + 'Content-Type: multipart/mixed; boundary=abc\r\n\r\n--abc\r\n' + seal('a.seal', 'YQ==YWJj\r\nZA==\r\nZWY=\r\nYW=JjZA\r\n', 'base64') + '--abc--\r\n',
    'an outer delimiter closes the inner multipart':
      H + 'Content-Type: multipart/mixed; boundary=abc\r\n\r\n--abc\r\nContent-Type: multipart/mixed; boundary=def\r\n\r\n--def\r\n' + seal('in.seal', 'INNER') + '\r\n--abc\r\n' + seal('b.seal', 'B') + '\r\n--abc--\r\n',
    'delimiter with trailing whitespace, and a longer look-alike': H + 'Content-Type: multipart/mixed; boundary=abc\r\n\r\n--abcdef\r\n--abc   \r\n' + seal('a.seal', 'X\r\n--abcd\r\nY') + '\r\n--abc--',
    'quoted-printable with soft breaks and bad escapes': H + seal('a.seal', 'ab=3D=\r\ncd=ZZ=4\r\n', 'quoted-printable'),
    'a file name with spaces, unquoted': H + 'Content-Type: multipart/mixed; boundary=abc\r\n\r\n--abc\r\nContent-Type: application/octet-stream; name=my file.seal\r\n\r\nDATA\r\n--abc--\r\n',
  };
  for (const [name, raw] of Object.entries(shapes)) {
    it(name, async () => {
      const ref = await reference(raw);
      expect(ref.length).toBeGreaterThan(0);
      expect((await walk(raw)).seals.map((s) => s.data)).toEqual(ref);
      // Cut in pieces of every small size: the same reading.
      for (const n of [1, 2, 3, 5, 7, 13]) expect((await walk(raw, [n])).seals.map((s) => s.data), `pieces of ${n}`).toEqual(ref);
    });
  }
});

describe('MIME walk: limits are reported, never silent', () => {
  const filler = (n: number): string => Array.from({ length: n }, (_, i) => `--b\r\nContent-Type: text/plain\r\n\r\nfiller ${i}\r\n`).join('');
  it('parts: the part after the limit is not examined, and the walk says so', async () => {
    const m = `${H}Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n${seal('1.seal', 'one')}\r\n${filler(300)}--b\r\n${seal('2.seal', 'two')}\r\n--b--\r\n`;
    expect((await walk(m)).seals.map((s) => s.data)).toEqual(['one', 'two']);
    const limited = await walk(m, [], { ...LIMITS, maxParts: 100 });
    expect(limited.exceeded).toBe('parts');
    expect(limited.seals.map((s) => s.data)).toEqual(['one']);
    // Exactly at the limit: examined. (1 message + 1 seal + 300 fillers + 1 seal = 303 entities.)
    expect((await walk(m, [], { ...LIMITS, maxParts: 303 })).exceeded).toBeUndefined();
    expect((await walk(m, [], { ...LIMITS, maxParts: 302 })).exceeded).toBe('parts');
  });

  it('depth: nesting past the limit is reported', async () => {
    const nest = (levels: number): string => {
      let s = seal('deep.seal', 'DEEP');
      for (let i = levels; i >= 1; i--) s = `Content-Type: multipart/mixed; boundary=l${i}\r\n\r\n--l${i}\r\n${s}\r\n--l${i}--\r\n`;
      return H + s;
    };
    expect((await walk(nest(32))).seals.map((s) => s.data)).toEqual(['DEEP']);
    const deep = await walk(nest(40));
    expect(deep.exceeded).toBe('depth');
    expect(deep.seals).toEqual([]);
    expect((await walk(nest(33))).exceeded).toBe('depth');
    // The same boundary nested (a structure bomb) hits the same limit.
    const bomb = 'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n'.repeat(200) + 'x';
    expect((await walk(bomb)).exceeded).toBe('depth');
  });

  it('size and header block: reported, and a seal cut short by the limit is withdrawn, not judged', async () => {
    const big = `${H}Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n${seal('a.seal', 'x'.repeat(5000))}\r\n--b--\r\n`;
    const r = await walk(big, [1000], { ...LIMITS, maxBytes: 3000 });
    expect(r.exceeded).toBe('size');
    expect(r.seals).toEqual([]);
    const headers = 'X-H: ' + 'v'.repeat(2000) + '\r\n';
    expect((await walk(headers + big, [], { ...LIMITS, maxHeaderBytes: 1500 })).exceeded).toBe('header');
    expect((await walk(headers + big, [100], { ...LIMITS, maxHeaderBytes: 1500 })).exceeded).toBe('header');
    expect((await walk(headers + big, [], { ...LIMITS, maxHeaderBytes: 4000 })).exceeded).toBeUndefined();
  });
});

describe('MIME walk: the pieces the bytes come in change nothing', () => {
  const part = fc.oneof(
    fc.constant('Content-Type: text/plain\r\n\r\nhello\r\n-- \r\nsignature'),
    fc.constant('Content-Type: image/png\r\nContent-ID: <i>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n'),
    fc.uint8Array({ maxLength: 300 }).map((b) => seal('x.seal', Buffer.from(b).toString('base64').replace(/(.{76})/g, '$1\r\n'), 'base64')),
    fc.uint8Array({ maxLength: 100 }).map((b) => seal('q.seal', [...b].map((x) => (x > 32 && x < 127 && x !== 61 ? String.fromCharCode(x) : '=' + x.toString(16).toUpperCase().padStart(2, '0'))).join('').replace(/(.{70})/g, '$1=\r\n'), 'quoted-printable')),
  );
  it('any message, any cut', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(part, { minLength: 1, maxLength: 5 }), fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 5 }), fc.boolean(), async (parts, cuts, lf) => {
        let raw = `${H}Content-Type: multipart/mixed; boundary=zz\r\n\r\n` + parts.map((p) => `--zz\r\n${p}\r\n`).join('') + '--zz--\r\n';
        if (lf) raw = raw.replace(/\r\n/g, '\n');
        expect(await walk(raw, cuts)).toEqual(await walk(raw));
      }),
      { numRuns: 150 },
    );
  });
});

describe('transfer decoders', () => {
  it('base64: pieces cut anywhere decode as the whole does', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 90 }), (data, cut, width) => {
        const text = Buffer.from(Buffer.from(data).toString('base64').replace(new RegExp(`(.{${width}})`, 'g'), '$1\r\n'), 'latin1');
        const d = new Base64Decoder();
        const out: Buffer[] = [];
        for (let i = 0; i < text.length; i += cut) out.push(d.push(text.subarray(i, i + cut)));
        out.push(d.end());
        expect(Buffer.concat(out)).toEqual(Buffer.from(data));
      }),
    );
  });

  it('base64 with irregular line lengths (a line-length guess would jump over a line break) decodes exactly', () => {
    const data = Buffer.from(Array.from({ length: 999 }, (_, i) => (i * 31) & 0xff));
    const b64 = data.toString('base64');
    for (const widths of [[10, 4, 5], [76, 3, 72], [8, 8, 1, 7, 16], [5, 9, 4]]) {
      let text = '';
      for (let p = 0, k = 0; p < b64.length; p += widths[k++ % widths.length]!) text += b64.slice(p, p + widths[k % widths.length]!) + (k % 2 ? '\n' : '\r\n');
      const d = new Base64Decoder();
      expect(Buffer.concat([d.push(Buffer.from(text)), d.end()]).equals(data), widths.join(',')).toBe(true);
    }
  });

  it('base64 over 64 KiB decodes in pieces to the same bytes', () => {
    const data = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) & 0xff));
    const d = new Base64Decoder();
    expect(Buffer.concat([d.push(Buffer.from(data.toString('base64'))), d.end()]).equals(data)).toBe(true);
  });

  it('base64 with stray bytes and padding anywhere: as a quantum-by-quantum reader (mailparser) decodes it, whatever the cuts', () => {
    // The reference: padding closes the open quantum, anything outside the alphabet is skipped.
    const reference = (s: string): Buffer => {
      const out: Buffer[] = [];
      let q = '';
      for (const ch of s) {
        if (/[A-Za-z0-9+/]/.test(ch)) q += ch;
        else if (ch === '=' && q) {
          out.push(Buffer.from(q, 'base64'));
          q = '';
        }
        if (q.length === 4) {
          out.push(Buffer.from(q, 'base64'));
          q = '';
        }
      }
      out.push(Buffer.from(q, 'base64'));
      return Buffer.concat(out);
    };
    fc.assert(
      fc.property(
        fc.string({ maxLength: 300, unit: fc.constantFrom('Q', 'W', 'x', '0', '+', '/', '=', '\r', '\n', ' ', '*', '\t') }),
        fc.integer({ min: 1, max: 40 }),
        (s, cut) => {
          const text = Buffer.from(s, 'latin1');
          const d = new Base64Decoder();
          const out: Buffer[] = [];
          for (let i = 0; i < text.length; i += cut) out.push(d.push(text.subarray(i, i + cut)));
          out.push(d.end());
          expect(Buffer.concat(out).toString('hex')).toBe(reference(s).toString('hex'));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('quoted-printable: pieces cut anywhere decode as the whole does', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200, unit: fc.constantFrom('a', '=', '3', 'D', 'z', '\r', '\n', ' ') }), fc.integer({ min: 1, max: 10 }), (s, cut) => {
        const whole = new QuotedPrintableDecoder();
        const expected = Buffer.concat([whole.push(Buffer.from(s, 'latin1')), whole.end()]);
        const d = new QuotedPrintableDecoder();
        const out: Buffer[] = [];
        for (let i = 0; i < s.length; i += cut) out.push(d.push(Buffer.from(s.slice(i, i + cut), 'latin1')));
        out.push(d.end());
        expect(Buffer.concat(out)).toEqual(expected);
      }),
    );
    const d = new QuotedPrintableDecoder();
    expect(Buffer.concat([d.push(Buffer.from('a=3Db=\r\nc=\nd=ZZ=4')), d.end()]).toString('latin1')).toBe('a=bcd=ZZ=4');
  });
});

describe('parseStructured: comments and whitespace as mailparser reads them', () => {
  it('drops comments that do not continue a token; keeps those that do', () => {
    expect(parseStructured('multipart/mixed (c); boundary=abc (note)').params).toEqual({ boundary: 'abc' });
    expect(parseStructured('multipart/mixed (c); boundary=abc (note)').value).toBe('multipart/mixed');
    expect(parseStructured('attachment; filename=Invoice(1).pdf').params.filename).toBe('Invoice(1).pdf');
    expect(parseStructured('a/b; boundary="q" (c); name=x').params).toEqual({ boundary: 'q', name: 'x' });
    expect(parseStructured('a/b; name=my file.seal ; x=1').params).toEqual({ name: 'my file.seal', x: '1' });
    expect(parseStructured('a/b; boundary=first; boundary=second').params.boundary).toBe('first');
    expect(parseStructured('a/b; name="q\\"uote"').params.name).toBe('q"uote');
    expect(parseStructured('a/b (unclosed').value).toBe('a/b');
  });
});
