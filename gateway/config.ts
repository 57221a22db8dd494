// The gateway's one configuration file: JSON, validated with zod at start so
// a mistake is reported with the path of the field, before any connection is made.
// Secrets (passwords, passphrases) may be written inline, or taken from an environment
// variable or a file, so the config itself can be world-readable.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { fromBase64 } from '../card/bytes.js';
import type { MailboxOwner } from '../card/owner.js';
import type { Limits } from './verdict.js';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** A secret: a string, `{ "env": "NAME" }` or `{ "file": "/path" }`. */
const secret = z.union([
  z.string().min(1),
  z.object({ env: z.string().min(1) }).strict(),
  z.object({ file: z.string().min(1) }).strict(),
]);
type SecretSpec = z.infer<typeof secret>;

const port = z.number().int().min(1).max(65535);

/**
 * Whose mailbox a folder is (DESIGN.md Fig. 17/18 applied keylessly): a purchaser's
 * card id (and group), or the code serial or ID of a dedicated user with its group
 * (and the user's build id, and its parent for a copy right, when known).
 */
const owner = z.union([
  z.object({ card: z.string().min(1), group: z.string().min(1).optional() }).strict(),
  z.object({ code: z.string().min(1), group: z.string().min(1), build: z.string().min(1).optional(), copyOf: z.string().min(1).optional() }).strict(),
  z.object({ id: z.string().min(1), group: z.string().min(1), build: z.string().min(1).optional(), copyOf: z.string().min(1).optional() }).strict(),
]);
type RawOwner = z.infer<typeof owner>;

export function toMailboxOwner(o: RawOwner): MailboxOwner {
  if ('card' in o) return { kind: 'card', cardId: o.card, groupId: o.group };
  const [kind, label] = 'code' in o ? (['code', o.code] as const) : (['id', o.id] as const);
  return { kind, label, groupId: o.group, buildId: o.build, copyOf: o.copyOf };
}

/** What the gateway examines of one message; beyond it: "too complex to check". */
const limits = z
  .object({
    maxParts: z.number().int().min(1).max(100_000).default(1000),
    maxDepth: z.number().int().min(1).max(1000).default(32),
    maxBytes: z.number().int().min(1024).default(100 * 1024 * 1024),
    maxHeaderBytes: z.number().int().min(1024).default(1024 * 1024),
  })
  .strict();
const DEFAULT_LIMITS = { maxParts: 1000, maxDepth: 32, maxBytes: 100 * 1024 * 1024, maxHeaderBytes: 1024 * 1024 };

const account = z
  .object({
    name: z.string().min(1).regex(/^[A-Za-z0-9_.@-]+$/, 'letters, digits and _ . @ - only'),
    host: z.string().min(1),
    port: port.default(143),
    /** Implicit TLS (port 993); otherwise STARTTLS when the server offers it. */
    secure: z.boolean().default(false),
    /** Accept self-signed server certificates (a local Dovecot); off by default. */
    tlsInsecure: z.boolean().default(false),
    user: z.string().min(1),
    password: secret,
    folders: z.array(z.string().min(1)).min(1).default(['INBOX']),
    /** Move mail to this folder when its verdict is listed in `quarantineVerdicts`. */
    quarantine: z.string().min(1).optional(),
    quarantineVerdicts: z.array(z.enum(['tampered', 'uncertified', 'partial'])).default(['tampered']),
    /** Whose mailbox this is, for every watched folder of the account... */
    owner: owner.optional(),
    /** ...or per folder (overrides `owner`). */
    folderOwners: z.record(z.string(), owner).optional(),
    /** Fallback poll interval; IDLE is used whenever the server offers it. */
    pollSeconds: z.number().positive().max(3600).default(60),
    /** Messages fetched per batch when catching up a backlog. */
    batchSize: z.number().int().min(1).max(5000).default(500),
  })
  .strict();

const mapping = z
  .object({
    /** `someone@example.org` or `@example.org` (a whole domain). */
    match: z.string().regex(/^([^@\s]+@[^@\s]+|@[^@\s]+)$/, 'an address or @domain'),
    /** Seal for a code serial (the usual case) or a purchaser-chosen ID. */
    kind: z.enum(['code', 'id']).default('code'),
    label: z.string().min(1),
  })
  .strict();

const smtp = z
  .object({
    listen: z.object({ host: z.string().default('127.0.0.1'), port: port.default(2587) }).strict().default({ host: '127.0.0.1', port: 2587 }),
    users: z.array(z.object({ user: z.string().min(1), password: secret }).strict()).min(1),
    tls: z
      .object({ cert: z.string().optional(), key: z.string().optional() })
      .strict()
      .refine((t) => (t.cert === undefined) === (t.key === undefined), 'give both cert and key, or neither (a certificate is then generated)')
      .default({}),
    /** Allow AUTH and mail without STARTTLS; only accepted when listening on loopback. */
    allowPlaintextOnLoopback: z.boolean().default(false),
    maxMessageBytes: z.number().int().positive().default(50 * 1024 * 1024),
    /** RCPT TO beyond this many in one message get `452 4.5.3` (the client sends the rest in another message). */
    maxRecipients: z.number().int().min(1).max(10_000).default(100),
    /** A message to a mapped recipient with more MIME parts, or nested deeper, is refused with 552/554. */
    maxParts: z.number().int().min(1).max(1_000_000).default(20_000),
    maxDepth: z.number().int().min(1).max(1000).default(50),
    /** Worker threads that walk and seal submitted messages (never the event loop). */
    sealThreads: z.number().int().min(1).max(16).default(1),
    /**
     * The V8 heap a seal worker may use (MB). A message that needs more ends that worker,
     * not the gateway; a message that ends it `workerCrashesToRefuse` times is refused with 554.
     */
    sealWorkerHeapMb: z.number().int().min(16).max(16_384).default(256),
    workerCrashesToRefuse: z.number().int().min(1).max(10).default(2),
    auth: z
      .object({
        /** Wrong passwords on one connection before it is closed with 421. */
        maxTriesPerConnection: z.number().int().min(1).max(100).default(3),
        /** Failures per client address, and per user name, within `windowSeconds` before a lock-out. */
        maxFailures: z.number().int().min(1).max(10_000).default(10),
        windowSeconds: z.number().positive().max(86_400).default(900),
        lockoutSeconds: z.number().positive().max(86_400).default(900),
        /** Each failure is answered after delayMs × failures so far (capped at maxDelayMs). */
        delayMs: z.number().int().min(0).max(60_000).default(500),
        maxDelayMs: z.number().int().min(0).max(60_000).default(5000),
        burstQuietSeconds: z.number().positive().max(3600).default(30),
      })
      .strict()
      .default({ maxTriesPerConnection: 3, maxFailures: 10, windowSeconds: 900, lockoutSeconds: 900, delayMs: 500, maxDelayMs: 5000, burstQuietSeconds: 30 }),
    upstream: z
      .object({
        host: z.string().min(1),
        port: port.default(25),
        secure: z.boolean().default(false),
        tlsInsecure: z.boolean().default(false),
        /** Refuse to relay when STARTTLS is not offered. */
        requireTLS: z.boolean().default(false),
        user: z.string().optional(),
        password: secret.optional(),
      })
      .strict(),
    card: z.object({ file: z.string().min(1), passphrase: secret }).strict(),
    mappings: z.array(mapping).default([]),
    retry: z
      .object({
        firstSeconds: z.number().positive().default(5),
        maxSeconds: z.number().positive().default(900),
        giveUpHours: z.number().positive().default(120),
      })
      .strict()
      .default({ firstSeconds: 5, maxSeconds: 900, giveUpHours: 120 }),
  })
  .strict();

const schema = z
  .object({
    /** The issuer's Ed25519 public key: base64, or read from a file (what `sealcode init` writes). */
    issuerPublicKey: z.string().min(1).optional(),
    issuerPublicKeyFile: z.string().min(1).optional(),
    /** Where the SQLite state and the SMTP queue live. */
    dataDir: z.string().min(1),
    status: z
      .object({ url: z.string().url().optional(), file: z.string().optional(), refreshSeconds: z.number().positive().default(300) })
      .strict()
      .refine((s) => (s.url === undefined) !== (s.file === undefined), 'give exactly one of url or file')
      .optional(),
    admin: z
      .object({ host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65535).default(9465) })
      .strict()
      .optional(),
    log: z.object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).strict().default({ level: 'info' }),
    imap: z
      .object({
        accounts: z.array(account).default([]),
        /** Worker threads that walk and certify fetched mail; default: cores beyond two (measured: on two cores, inline is faster). */
        certifyThreads: z.number().int().min(0).max(16).optional(),
        limits: limits.default(DEFAULT_LIMITS),
      })
      .strict()
      .default({ accounts: [], limits: DEFAULT_LIMITS }),
    smtp: smtp.optional(),
  })
  .strict()
  .refine((c) => (c.issuerPublicKey === undefined) !== (c.issuerPublicKeyFile === undefined), {
    message: 'give exactly one of issuerPublicKey or issuerPublicKeyFile',
    path: ['issuerPublicKey'],
  })
  .refine((c) => c.imap.accounts.length > 0 || c.smtp !== undefined, {
    message: 'nothing to do: configure imap.accounts and/or smtp',
    path: ['imap', 'accounts'],
  });

type Raw = z.infer<typeof schema>;
type RawAccount = z.infer<typeof account>;
type RawSmtp = z.infer<typeof smtp>;

export interface AccountConfig extends Omit<RawAccount, 'password' | 'owner' | 'folderOwners'> {
  password: string;
  /** The owner of each watched folder that has one. */
  owners: Record<string, MailboxOwner>;
}
export interface SmtpConfig extends Omit<RawSmtp, 'users' | 'upstream' | 'card'> {
  users: { user: string; password: string }[];
  upstream: Omit<RawSmtp['upstream'], 'password'> & { password?: string };
  card: { file: string; passphrase: string };
}
export interface GatewayConfig extends Omit<Raw, 'issuerPublicKey' | 'issuerPublicKeyFile' | 'imap' | 'smtp'> {
  issuerPub: Uint8Array;
  imap: { accounts: AccountConfig[]; certifyThreads?: number; limits: Limits };
  smtp?: SmtpConfig;
  /** Folder of the config file: relative paths in it are resolved from there. */
  baseDir: string;
}

const fieldPath = (p: readonly PropertyKey[]): string =>
  p.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join('') || '(top level)';

/** Turns zod issues into one line each, naming the field. */
function describeIssues(err: z.ZodError): string {
  return err.issues
    .map((i) => {
      let msg = i.message;
      if (i.code === 'unrecognized_keys') msg = `unknown field(s) ${i.keys.join(', ')}`;
      return `${fieldPath(i.path)}: ${msg}`;
    })
    .join('\n');
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  return host === '::1';
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
}

/** Parses and checks a config text; `file` names it in errors and anchors relative paths. */
export function parseConfig(text: string, file: string, o: LoadOptions = {}): GatewayConfig {
  const env = o.env ?? process.env;
  const baseDir = path.dirname(path.resolve(file));
  const abs = (p: string): string => path.resolve(baseDir, p);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  const parsed = schema.safeParse(doc);
  if (!parsed.success) throw new ConfigError(`${file}: invalid configuration\n${describeIssues(parsed.error)}`);
  const c = parsed.data;

  const resolveSecret = (s: SecretSpec, where: string): string => {
    if (typeof s === 'string') return s;
    if ('env' in s) {
      const v = env[s.env];
      if (!v) throw new ConfigError(`${file}: ${where}: environment variable ${s.env} is not set`);
      return v;
    }
    try {
      return fs.readFileSync(abs(s.file), 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      throw new ConfigError(`${file}: ${where}: cannot read secret file ${s.file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  };

  let issuerPub: Uint8Array;
  const keyField = c.issuerPublicKey !== undefined ? 'issuerPublicKey' : 'issuerPublicKeyFile';
  try {
    const text64 = c.issuerPublicKey ?? fs.readFileSync(abs(c.issuerPublicKeyFile!), 'utf8');
    issuerPub = fromBase64(text64.trim());
  } catch (e) {
    throw new ConfigError(`${file}: ${keyField}: ${(e as NodeJS.ErrnoException).code ? `cannot read ${c.issuerPublicKeyFile}` : 'not base64'}`);
  }
  if (issuerPub.length !== 32) throw new ConfigError(`${file}: ${keyField}: an Ed25519 public key is 32 bytes, got ${issuerPub.length}`);

  const names = new Set<string>();
  const accounts = c.imap.accounts.map((a, i) => {
    if (names.has(a.name)) throw new ConfigError(`${file}: imap.accounts[${i}].name: duplicate account name ${a.name}`);
    names.add(a.name);
    if (a.quarantine && a.folders.includes(a.quarantine))
      throw new ConfigError(`${file}: imap.accounts[${i}].quarantine: the quarantine folder must not be a watched folder`);
    const owners: Record<string, MailboxOwner> = {};
    for (const f of Object.keys(a.folderOwners ?? {}))
      if (!a.folders.includes(f)) throw new ConfigError(`${file}: imap.accounts[${i}].folderOwners: ${f} is not a watched folder`);
    for (const f of a.folders) {
      const o = a.folderOwners?.[f] ?? a.owner;
      if (o) owners[f] = toMailboxOwner(o);
    }
    const { owner: _o, folderOwners: _fo, ...rest } = a;
    return { ...rest, owners, password: resolveSecret(a.password, `imap.accounts[${i}].password`) };
  });

  let smtpCfg: SmtpConfig | undefined;
  if (c.smtp) {
    const s = c.smtp;
    if (s.allowPlaintextOnLoopback && !isLoopback(s.listen.host))
      throw new ConfigError(`${file}: smtp.allowPlaintextOnLoopback: plaintext is only allowed when smtp.listen.host is a loopback address (is ${s.listen.host})`);
    if ((s.upstream.user === undefined) !== (s.upstream.password === undefined))
      throw new ConfigError(`${file}: smtp.upstream.user: give both user and password, or neither`);
    smtpCfg = {
      ...s,
      tls: { cert: s.tls.cert && abs(s.tls.cert), key: s.tls.key && abs(s.tls.key) },
      users: s.users.map((u, i) => ({ user: u.user, password: resolveSecret(u.password, `smtp.users[${i}].password`) })),
      upstream: { ...s.upstream, password: s.upstream.password && resolveSecret(s.upstream.password, 'smtp.upstream.password') },
      card: { file: abs(s.card.file), passphrase: resolveSecret(s.card.passphrase, 'smtp.card.passphrase') },
      mappings: s.mappings.map((m) => ({ ...m, match: m.match.toLowerCase() })),
    };
  }

  if (c.admin && !isLoopback(c.admin.host)) throw new ConfigError(`${file}: admin.host: the admin port must listen on loopback (is ${c.admin.host})`);

  return {
    dataDir: abs(c.dataDir),
    status: c.status && { ...c.status, file: c.status.file && abs(c.status.file) },
    admin: c.admin,
    log: c.log,
    issuerPub,
    imap: { accounts, certifyThreads: c.imap.certifyThreads, limits: c.imap.limits },
    smtp: smtpCfg,
    baseDir,
  };
}

export function loadConfig(file: string, o: LoadOptions = {}): GatewayConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseConfig(text, file, o);
}

export { isLoopback };
