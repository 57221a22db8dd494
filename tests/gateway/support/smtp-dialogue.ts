// A bare SMTP dialogue over a socket, for tests that look at what a client cannot see
// through nodemailer: the EHLO feature list before and after STARTTLS, each reply to
// each AUTH attempt, and whether the server hung up.
import net from 'node:net';
import tls from 'node:tls';

export interface Reply {
  code: number;
  lines: string[];
}

export class Dialogue {
  private buf = '';
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(private sock: net.Socket | tls.TLSSocket) {
    this.attach(sock);
  }

  private attach(s: net.Socket | tls.TLSSocket): void {
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      this.buf += d;
      this.wake();
    });
    s.on('close', () => {
      this.closed = true;
      this.wake();
    });
    s.on('error', () => {});
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** `from`: a local source address (127.0.0.2 is another client on loopback). */
  static async open(port: number, from?: string): Promise<{ d: Dialogue; greeting: Reply }> {
    const sock = net.connect({ port, host: '127.0.0.1', localAddress: from });
    await new Promise<void>((r, j) => sock.once('connect', r).once('error', j));
    const d = new Dialogue(sock);
    return { d, greeting: await d.reply() };
  }

  /** The next complete reply, or code 0 when the server closed the connection first. */
  async reply(timeoutMs = 20_000): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = /^(?:\d{3}-[^\n]*\n)*(\d{3})(?: [^\n]*)?\r?\n/.exec(this.buf);
      if (m) {
        const text = m[0];
        this.buf = this.buf.slice(text.length);
        return { code: Number(m[1]), lines: text.trimEnd().split(/\r?\n/).map((l) => l.slice(4)) };
      }
      if (this.closed) return { code: 0, lines: [] };
      if (Date.now() > deadline) throw new Error(`no SMTP reply within ${timeoutMs} ms; have ${JSON.stringify(this.buf)}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }

  async cmd(line: string): Promise<Reply> {
    if (!this.closed) this.sock.write(line + '\r\n');
    return this.reply();
  }

  async starttls(): Promise<void> {
    const r = await this.cmd('STARTTLS');
    if (r.code !== 220) throw new Error(`STARTTLS refused: ${r.code}`);
    this.sock.removeAllListeners('data');
    this.sock.removeAllListeners('close');
    const t = tls.connect({ socket: this.sock as net.Socket, rejectUnauthorized: false });
    await new Promise<void>((r, j) => t.once('secureConnect', r).once('error', j));
    this.sock = t;
    this.attach(t);
  }

  /** AUTH PLAIN in one line. */
  auth(user: string, pass: string): Promise<Reply> {
    return this.cmd('AUTH PLAIN ' + Buffer.from(`\0${user}\0${pass}`).toString('base64'));
  }

  close(): void {
    this.sock.destroy();
  }
}
