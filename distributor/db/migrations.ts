import { SealError } from '../../card/index.js';

// Versioned schema. Append a migration; never edit one that has shipped.
export const MIGRATIONS: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'seller core',
    sql: `
CREATE TABLE issuer_keys (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  public_key BLOB NOT NULL,
  sealed_secret BLOB NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE purchasers (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  email TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX purchasers_email ON purchasers (email);
CREATE TABLE groups (
  id TEXT PRIMARY KEY,
  sealed_key BLOB NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE cards (
  id TEXT PRIMARY KEY,
  purchaser_id TEXT NOT NULL REFERENCES purchasers (id),
  group_id TEXT NOT NULL REFERENCES groups (id),
  module_kind TEXT NOT NULL,
  sign_pub BLOB NOT NULL,
  kx_pub BLOB NOT NULL,
  cert BLOB NOT NULL,
  max_codes INTEGER NOT NULL,
  issued_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE TABLE codes (
  serial TEXT PRIMARY KEY,
  secret_hash BLOB NOT NULL,
  card_id TEXT NOT NULL REFERENCES cards (id),
  group_id TEXT NOT NULL REFERENCES groups (id),
  kind TEXT NOT NULL DEFAULT 'code' CHECK (kind IN ('code', 'copy')),
  state TEXT NOT NULL DEFAULT 'unused' CHECK (state IN ('unused', 'in_use', 'already_used', 'revoked')),
  copies_allowed INTEGER NOT NULL DEFAULT 1,
  parent_build_id TEXT,
  key_kind TEXT NOT NULL DEFAULT 'code' CHECK (key_kind IN ('code', 'id')),
  key_label TEXT,
  build_valid_days INTEGER NOT NULL DEFAULT 365,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  state_changed_at INTEGER NOT NULL
);
CREATE INDEX codes_card ON codes (card_id, state);
CREATE TABLE redemptions (
  id TEXT PRIMARY KEY,
  serial TEXT NOT NULL REFERENCES codes (serial),
  build_id TEXT NOT NULL UNIQUE,
  redeemer_email TEXT NOT NULL,
  build_cert BLOB NOT NULL,
  copy_of TEXT,
  build_expires_at INTEGER NOT NULL,
  -- The build's secrets, sealed under the master key, kept only while the download
  -- may still be resumed; wiped when it completes or the window closes.
  sealed_profile BLOB,
  token_hash BLOB,
  token_expires_at INTEGER,
  granted_at INTEGER NOT NULL,
  completed_at INTEGER,
  revoked_at INTEGER
);
CREATE INDEX redemptions_serial ON redemptions (serial);
CREATE INDEX redemptions_email ON redemptions (redeemer_email);
CREATE TABLE payments (
  id TEXT PRIMARY KEY,
  purchaser_id TEXT NOT NULL REFERENCES purchasers (id),
  card_id TEXT REFERENCES cards (id),
  kind TEXT NOT NULL CHECK (kind IN ('card', 'codes')),
  quantity INTEGER NOT NULL,
  amount_cents INTEGER NOT NULL,
  currency TEXT NOT NULL,
  reference TEXT,
  created_at INTEGER NOT NULL
);
CREATE TABLE pairs (
  id TEXT PRIMARY KEY,
  card_a TEXT NOT NULL REFERENCES cards (id),
  card_b TEXT NOT NULL REFERENCES cards (id),
  created_at INTEGER NOT NULL
);
CREATE TABLE paybacks (
  id TEXT PRIMARY KEY,
  purchaser_id TEXT NOT NULL REFERENCES purchasers (id),
  rule TEXT NOT NULL,
  source TEXT NOT NULL,
  amount_cents INTEGER NOT NULL,
  points INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (rule, source)
);
`,
  },
  {
    version: 2,
    name: 'distributor: challenges, copy rights, server secrets',
    sql: `
-- Fresh, single-use challenges that a card (or a dedicated build) signs to prove
-- itself online (Fig. 14, 27). Only a hash of the request parameters is signed with
-- it, so a challenge cannot be reused for another purpose or another request.
CREATE TABLE challenges (
  id TEXT PRIMARY KEY,
  subject_kind TEXT NOT NULL CHECK (subject_kind IN ('card', 'build')),
  subject_id TEXT NOT NULL,
  purpose TEXT NOT NULL,
  nonce BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER
);
CREATE INDEX challenges_expiry ON challenges (expires_at);
-- How many copies (claim 14) the builds of one code may hand out in all.
ALTER TABLE codes ADD COLUMN copy_rights INTEGER NOT NULL DEFAULT 3;
-- Secrets of the web service (cookie signing), sealed under the master key.
CREATE TABLE server_secrets (
  name TEXT PRIMARY KEY,
  sealed BLOB NOT NULL,
  created_at INTEGER NOT NULL
);
`,
  },
  {
    version: 3,
    name: 'distributor: indexes for download tokens and open grants',
    sql: `
-- Every download looks its redemption up by token hash; every grant sweeps the open
-- grants whose window has closed. Without these both scan all redemptions.
CREATE INDEX redemptions_token ON redemptions (token_hash) WHERE token_hash IS NOT NULL;
CREATE INDEX redemptions_open ON redemptions (token_expires_at) WHERE completed_at IS NULL AND sealed_profile IS NOT NULL;
`,
  },
  {
    version: 4,
    name: 'distributor: console sessions',
    sql: `
-- Console sessions, so that logout, a new password and a restart end them. The cookie
-- holds a random id; only its hash is kept. epoch binds a session to the console
-- password in force when it was made.
CREATE TABLE console_sessions (
  id_hash BLOB PRIMARY KEY,
  epoch BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
`,
  },
  {
    version: 5,
    name: 'distributor: redemptions that can be shown again',
    sql: `
-- While a download is open, its token sealed under the master key (so the same email or
-- the same browser gets the same link again) and a hash of the browser's redemption cookie.
ALTER TABLE redemptions ADD COLUMN sealed_token BLOB;
ALTER TABLE redemptions ADD COLUMN visitor_hash BLOB;
`,
  },
  {
    version: 6,
    name: 'distributor: confirmed redeemer emails',
    sql: `
-- Pay-back for an invitee goes only to a purchaser whose code was redeemed with an
-- address its owner confirmed: a mailed link, whose token is kept only as a hash,
-- used once, and expiring.
ALTER TABLE redemptions ADD COLUMN email_confirmed_at INTEGER;
CREATE TABLE email_confirmations (
  token_hash BLOB PRIMARY KEY,
  redemption_id TEXT NOT NULL REFERENCES redemptions (id),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER
);
`,
  },
  {
    version: 7,
    name: 'distributor: settings',
    sql: `
-- The public URL the server was last started with, so that cards and builds made off-line
-- (sealcode admin) name the same distributor as those made by the server.
CREATE TABLE settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
`,
  },
  {
    version: 8,
    name: 'console: one-time view of a newly issued card',
    sql: `
-- The card file and code sheet of a card just issued in the console, sealed under the
-- master key, until the seller marks them done or they expire (the codes are nowhere
-- else on the server). Looked up by a hash of the random id in the seller's cookie.
CREATE TABLE issued_views (
  id_hash BLOB PRIMARY KEY,
  card_id TEXT NOT NULL,
  sealed BLOB NOT NULL,
  expires_at INTEGER NOT NULL
);
`,
  },
  {
    version: 9,
    name: 'groups: distributor-blind codes',
    sql: `
-- A blind group's codes have a blind part the seller never sees (docs/keys.md): the
-- seller only records that they do, so each build it makes asks for that part once.
ALTER TABLE groups ADD COLUMN blind INTEGER NOT NULL DEFAULT 0 CHECK (blind IN (0, 1));
`,
  },
];

export const LATEST_VERSION = Math.max(...MIGRATIONS.map((m) => m.version));

/**
 * A migration's SQL for PostgreSQL. The migrations are written for SQLite; the only
 * words PostgreSQL reads differently are the types: INTEGER (our millisecond times and
 * counts need 64 bits) and BLOB.
 */
export const forPostgres = (sql: string): string => sql.replace(/\bINTEGER\b/g, 'BIGINT').replace(/\bBLOB\b/g, 'BYTEA');

/** The refusal when a database was migrated by a newer sealcode than this one. */
export const newerSchema = (where: string, version: number): SealError =>
  new SealError('USAGE', `the seller database ${where} has schema version ${version}, newer than this sealcode knows (${LATEST_VERSION}): upgrade sealcode here first`);
