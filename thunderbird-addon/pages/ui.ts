// Small DOM helpers for the options page and the compose popup (no innerHTML: every
// string shown may come from a certificate or a mail address).
export interface PageApi {
  runtime: { sendMessage(m: unknown): Promise<{ ok: boolean; r?: unknown; error?: string }> };
  i18n: { getMessage(k: string, s?: string | string[]): string };
  tabs: { query(q: Record<string, unknown>): Promise<{ id: number }[]> };
  compose: { getComposeDetails(tabId: number): Promise<{ to?: unknown[]; cc?: unknown[]; bcc?: unknown[] }> };
}
export const api = ((globalThis as unknown as { messenger?: PageApi }).messenger ?? (globalThis as unknown as { browser: PageApi }).browser)!;
export const t = (k: string, s?: string | string[]): string => api.i18n.getMessage(k, s) || k;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Record<string, unknown> = {}, ...kids: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  Object.assign(e, props);
  e.append(...kids);
  return e;
}

export async function ask<T>(msg: Record<string, unknown>): Promise<T> {
  const r = await api.runtime.sendMessage(msg);
  if (!r.ok) throw new Error(r.error ?? 'failed');
  return r.r as T;
}

export function showError(e: unknown): void {
  document.getElementById('err')!.textContent = e instanceof Error ? e.message : String(e);
}

export function table(head: string[], rows: (Node | string)[][]): HTMLTableElement {
  return el('table', {}, el('tr', {}, ...head.map((h) => el('th', {}, h))), ...rows.map((r) => el('tr', {}, ...r.map((c) => el('td', {}, c)))));
}
