// MIME trees for property tests of the IMAP verdict: nested multiparts, forwarded
// messages (as they stand, base64 or quoted-printable), text, inline images, attachments, and certified, refused and tampered seals
// in base64 or quoted-printable; rendered as a client would write them, and the verdict
// the documented rules give for each tree.
import fc from 'fast-check';

export type Seal = 'ok' | 'refused' | 'tampered';
export type Node =
  | { t: 'text' | 'html' | 'image' | 'pdf' }
  | { t: 'seal'; s: Seal; cte: 'base64' | 'quoted-printable' }
  | { t: 'multi'; kids: Node[] }
  | { t: 'fwd'; msg: Node; cte: '7bit' | 'base64' | 'quoted-printable' };

const leaf = fc.oneof(
  fc.constantFrom<Node>({ t: 'text' }, { t: 'html' }, { t: 'image' }, { t: 'pdf' }),
  fc.record({ t: fc.constant('seal' as const), s: fc.constantFrom<Seal>('ok', 'ok', 'refused', 'tampered'), cte: fc.constantFrom('base64' as const, 'quoted-printable' as const) }),
);
export const tree = fc.letrec<{ node: Node }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.record({ t: fc.constant('multi' as const), kids: fc.array(tie('node'), { minLength: 1, maxLength: 4 }) }),
    fc.record({ t: fc.constant('fwd' as const), msg: tie('node'), cte: fc.constantFrom('7bit' as const, 'base64' as const, 'quoted-printable' as const) }),
  ),
})).node;

/** Quoted-printable as a mail client writes it: soft line breaks between escapes, never inside one. */
function qp(b: Buffer): string {
  let out = '';
  let line = 0;
  for (const x of b) {
    const e = x > 32 && x < 127 && x !== 61 ? String.fromCharCode(x) : '=' + x.toString(16).toUpperCase().padStart(2, '0');
    if (line + e.length > 75) {
      out += '=\r\n';
      line = 0;
    }
    out += e;
    line += e.length;
  }
  return out;
}

let seq = 0;
function render(n: Node, containers: Record<Seal, Buffer>): string {
  switch (n.t) {
    case 'text':
      return 'Content-Type: text/plain; charset=utf-8\r\n\r\nSee attached.\r\n-- \r\nBob';
    case 'html':
      return 'Content-Type: text/html\r\n\r\n<p>See <img src="cid:logo"></p>';
    case 'image':
      return 'Content-Type: image/png\r\nContent-ID: <logo>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgoAAAANSUhEUg==';
    case 'pdf':
      return 'Content-Type: application/pdf; name="payment-instructions.pdf"\r\nContent-Disposition: attachment; filename="payment-instructions.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK';
    case 'seal': {
      const body = n.cte === 'base64' ? containers[n.s].toString('base64').replace(/(.{76})/g, '$1\r\n') : qp(containers[n.s]);
      return `Content-Type: application/x-sealcode; name="f${seq++}.seal"\r\nContent-Transfer-Encoding: ${n.cte}\r\n\r\n${body}`;
    }
    case 'multi': {
      const b = `b${seq++}`;
      return `Content-Type: multipart/mixed; boundary="${b}"\r\n\r\n` + n.kids.map((k) => `--${b}\r\n${render(k, containers)}\r\n`).join('') + `--${b}--`;
    }
    case 'fwd': {
      // Forwarded as it stands, or with its own body encoded (as some clients forward).
      const inner = Buffer.from(`From: someone@example.test\r\nSubject: fwd\r\nMIME-Version: 1.0\r\n${render(n.msg, containers)}`, 'latin1');
      const body = n.cte === 'base64' ? inner.toString('base64').replace(/(.{76})/g, '$1\r\n') : n.cte === 'quoted-printable' ? qp(inner) : inner.toString('latin1');
      return `Content-Type: message/rfc822\r\nContent-Transfer-Encoding: ${n.cte}\r\n\r\n${body}`;
    }
  }
}

/** The verdict the rules give for a tree (docs/gateway.md). */
export function expected(root: Node): string | undefined {
  const seals: Seal[] = [];
  let unsealed = 0;
  const walk = (n: Node): void => {
    if (n.t === 'seal') seals.push(n.s);
    else if (n.t === 'image' || n.t === 'pdf') unsealed++;
    else if (n.t === 'multi') n.kids.forEach(walk);
    else if (n.t === 'fwd') walk(n.msg);
  };
  walk(root);
  if (seals.includes('tampered')) return 'tampered';
  if (seals.includes('refused')) return 'uncertified';
  if (seals.length === 0) return undefined;
  return unsealed ? 'partial' : 'certified';
}

/** A whole message around a tree; `pad` bytes of preamble (invisible to readers) change its size only. */
export function message(root: Node, containers: Record<Seal, Buffer>, lf: boolean, pad: number): Buffer {
  const b = `top${seq++}`;
  const preamble = pad ? 'This is a multi-part message in MIME format.\r\n'.repeat(Math.ceil(pad / 46)) : '';
  let s = `From: Bob <bob@example.test>\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="${b}"\r\n\r\n${preamble}--${b}\r\n${render(root, containers)}\r\n--${b}--\r\n`;
  if (lf) s = s.replace(/\r\n/g, '\n');
  return Buffer.from(s, 'latin1');
}

