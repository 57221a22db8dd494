// The CLI's people's-words text comes from the add-on's message table, so a verdict
// reads the same in the terminal as in Thunderbird's banner.
import table from '../thunderbird-addon/_locales/en/messages.json' with { type: 'json' };
import { formatMessage, type MessageEntry, type Msg } from '../thunderbird-addon/lib/verdict-text.js';

const entries = table as Record<string, MessageEntry>;

export const msg: Msg = (key, subs) => formatMessage(entries[key], subs) || key;
