// The slice of Thunderbird's `messenger.*` API the add-on uses, typed loosely enough to
// be faked in unit tests. The real object is the global `messenger` (or `browser`).
export interface AttachmentInfo {
  id?: number; // compose attachments
  name: string;
  size?: number;
  contentType?: string;
  partName?: string; // message attachments
}

export interface ComposeDetailsLike {
  to?: (string | { id: string; type: string })[];
  cc?: (string | { id: string; type: string })[];
  bcc?: (string | { id: string; type: string })[];
  customHeaders?: { name: string; value: string }[];
  [k: string]: unknown;
}

export interface Messenger {
  runtime: {
    getURL(path: string): string;
    openOptionsPage(): Promise<void>;
    connectNative(name: string): NativePort;
    onMessage: { addListener(f: (msg: unknown, sender: { tab?: { id: number } }) => unknown): void };
    onStartup: { addListener(f: () => void): void };
    onInstalled: { addListener(f: (d: { reason?: string }) => void): void };
    sendMessage(msg: unknown): Promise<unknown>;
  };
  compose: {
    onBeforeSend: { addListener(f: (tab: { id: number }, details: ComposeDetailsLike) => unknown): void };
    listAttachments(tabId: number): Promise<AttachmentInfo[]>;
    getAttachmentFile(id: number): Promise<File>;
    removeAttachment(tabId: number, id: number): Promise<void>;
    addAttachment(tabId: number, a: { file: File; name?: string }): Promise<AttachmentInfo>;
    getComposeDetails(tabId: number): Promise<ComposeDetailsLike>;
    beginNew(messageId?: number | null, details?: Record<string, unknown>): Promise<{ id: number; windowId?: number }>;
    sendMessage(tabId: number, o?: { mode: string }): Promise<unknown>;
  };
  messages: {
    listAttachments(messageId: number): Promise<AttachmentInfo[]>;
    getAttachmentFile(messageId: number, partName: string): Promise<File>;
    get(messageId: number): Promise<{ id: number; subject: string; author?: string; headerMessageId?: string }>;
    query(q: Record<string, unknown>): Promise<{ id: string | null; messages: { id: number; subject: string }[] }>;
    list(folderId: string): Promise<{ id: string | null; messages: { id: number; subject: string }[] }>;
    getFull(messageId: number): Promise<{ headers: Record<string, string[]> }>;
  };
  messageDisplay: {
    getDisplayedMessages(tabId: number): Promise<{ messages: { id: number }[] } | { id: number }[]>;
  };
  storage: {
    local: StorageArea;
    /** Kept while Thunderbird runs, across suspensions of the event page. */
    session?: StorageArea;
  };
  notifications: { create(id: string, o: { type: 'basic'; title: string; message: string; iconUrl?: string }): Promise<string> };
  i18n: { getMessage(key: string, subs?: string | string[]): string };
  tabs: {
    create(o: { url: string }): Promise<unknown>;
    query(q: Record<string, unknown>): Promise<{ id: number; type?: string }[]>;
    remove(id: number): Promise<void>;
    update(id: number, o: { active?: boolean }): Promise<unknown>;
  };
  mailTabs: {
    query(q: Record<string, unknown>): Promise<{ id: number }[]>;
    update(tabId: number, o: Record<string, unknown>): Promise<unknown>;
    setSelectedMessages(tabId: number, ids: number[]): Promise<void>;
  };
  composeAction: { openPopup(o?: { windowId?: number }): Promise<boolean> };
  extension: { getViews(o?: { type?: string; windowId?: number }): Window[] };
  windows: { create(o: { url: string; type?: string; width?: number; height?: number }): Promise<{ id: number }>; remove(id: number): Promise<void> };
  downloads: { download(o: { url: string; filename?: string; saveAs?: boolean }): Promise<number> };
  alarms: {
    create(name: string, o: { periodInMinutes?: number; delayInMinutes?: number }): Promise<void> | void;
    get(name: string): Promise<{ name: string; periodInMinutes?: number } | undefined>;
    onAlarm: { addListener(f: (a: { name: string }) => void): void };
  };
  folders: { query(q: Record<string, unknown>): Promise<{ id: string; name: string }[]> };
  accounts: { list(): Promise<{ id: string; type: string; identities: { email: string }[] }[]> };
}

export interface StorageArea {
  get(k: string | string[] | null): Promise<Record<string, unknown>>;
  set(o: Record<string, unknown>): Promise<void>;
}

export interface NativePort {
  postMessage(m: unknown): void;
  disconnect(): void;
  onMessage: { addListener(f: (m: unknown) => void): void };
  onDisconnect: { addListener(f: (p: { error?: { message: string } | null }) => void): void };
  error?: { message: string } | null;
}

export const messenger = (): Messenger => {
  const g = globalThis as unknown as { messenger?: Messenger; browser?: Messenger };
  const m = g.messenger ?? g.browser;
  if (!m) throw new Error('not running inside Thunderbird');
  return m;
};

/** A localized string, or the key itself when no locale data is present (unit tests). */
export function t(key: string, subs?: string | string[]): string {
  try {
    return messenger().i18n.getMessage(key, subs) || key;
  } catch {
    return key;
  }
}
