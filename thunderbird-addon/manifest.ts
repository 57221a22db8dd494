// The two flavours' manifests, from one description. build.ts writes them; stamp.ts
// rewrites a dedicated template's id, name and update URL without rebuilding.
export type Flavour = 'purchaser' | 'dedicated';

export const ADDON_VERSION = '0.1.0';
export const PURCHASER_ID = 'purchaser@sealcode.example';
export const TEMPLATE_ID = 'dedicated-template@sealcode.example';
export const SEALED_TYPE = 'application/x-sealcode';

export interface ManifestOptions {
  flavour: Flavour;
  /** Test builds carry a driver that reports to 127.0.0.1 and may send mail. */
  test?: boolean;
  updateUrl?: string;
}

export type Manifest = Record<string, unknown> & {
  name: string;
  browser_specific_settings: { gecko: { id: string; strict_min_version: string; update_url?: string } };
};

export function manifestFor(o: ManifestOptions): Manifest {
  const purchaser = o.flavour === 'purchaser';
  const permissions = ['messagesRead', 'messagesModify', 'compose', 'storage', 'notifications', 'alarms', 'downloads'];
  if (purchaser) permissions.push('nativeMessaging');
  if (o.test) permissions.push('accountsRead', 'accountsFolders', 'compose.send');
  return {
    manifest_version: 3,
    name: purchaser ? '__MSG_extensionNamePurchaser__' : '__MSG_extensionNameDedicated__',
    description: '__MSG_extensionDescription__',
    version: ADDON_VERSION,
    default_locale: 'en',
    author: 'sealcode',
    browser_specific_settings: {
      gecko: {
        id: purchaser ? PURCHASER_ID : TEMPLATE_ID,
        strict_min_version: '128.0',
        ...(o.updateUrl ? { update_url: o.updateUrl } : {}),
      },
    },
    icons: { '32': 'icons/sealcode.svg', '64': 'icons/sealcode.svg' },
    background: { scripts: ['background.js'] },
    permissions,
    ...(o.test ? { host_permissions: ['http://127.0.0.1/*'] } : {}),
    compose_action: {
      default_title: '__MSG_composeActionTitle__',
      default_popup: 'pages/popup.html',
      default_icon: 'icons/sealcode.svg',
    },
    message_display_scripts: [{ js: ['content/banner.js'], css: ['content/banner.css'] }, { js: ['content/game-pane.js'], css: ['content/game-pane.css'] }],
    options_ui: { page: 'pages/options.html' },
    // WebAssembly for the running SHA-256 (see lib/primitives.ts).
    content_security_policy: { extension_pages: "script-src 'self' 'wasm-unsafe-eval'; object-src 'self'" },
  };
}

/** The id a stamped dedicated build gets: one per build, so builds from several purchasers coexist. */
export const dedicatedId = (buildId: string): string => `${buildId.toLowerCase().replace(/[^a-z0-9._-]/g, '-')}@dedicated.sealcode.example`;
