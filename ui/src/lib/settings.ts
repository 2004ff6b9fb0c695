// The settings form (desktop app): what it shows and what it checks before saving. The desktop
// app checks the same again and has the last word; these messages mirror its messages.
import type { SettingsUpdate } from './bindings/SettingsUpdate';
import type { SettingsView } from './bindings/SettingsView';
import type { TokenSource } from './bindings/TokenSource';
import type { NotionChannelCheck } from './bindings/NotionChannelCheck';
import type { NotionCheckReport } from './bindings/NotionCheckReport';
import type { NotionFinding } from './bindings/NotionFinding';
import type { ProviderKeyView } from './bindings/ProviderKeyView';

export const POLL_MIN_SECS = 5;
export const POLL_MAX_SECS = 600;

export const RESTART_NOTE = 'Restart Review Desk to use the new folders.';

/** Where the Notion token comes from, in the creator's words. */
export function tokenSourceText(s: TokenSource): string {
  switch (s) {
    case 'keyring':
      return 'Stored in the OS keyring';
    case 'environment':
      return 'From the NOTION_TOKEN environment variable';
    case 'none':
      return 'Not set';
  }
}

/** The form's fields. The poll interval is what a number input gives: a number, or null when empty. */
export interface SettingsForm {
  workspace: string;
  config_dir: string;
  notion_poll_secs: number | null;
}

export type FormErrors = Partial<Record<keyof SettingsForm, string>>;

export function formFromView(v: SettingsView): SettingsForm {
  return { workspace: v.workspace, config_dir: v.config_dir, notion_poll_secs: v.notion_poll_secs };
}

/** An absolute path on Linux/macOS (`/…`) or Windows (`C:\…`, `C:/…`, `\\server\share…`). */
export function isAbsolutePath(p: string): boolean {
  return p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p) || /^\\\\[^\\]+\\[^\\]+/.test(p);
}

/** Why a folder field cannot be saved, or null. Empty is allowed: it means "back to the default". */
export function pathError(label: string, value: string): string | null {
  const p = value.trim();
  if (p === '' || isAbsolutePath(p)) return null;
  return `The ${label} must be a full path starting at the root (like /home/you/reviewdesk), not "${p}".`;
}

/** Why a poll interval cannot be saved, or null. */
export function pollError(secs: number | null | undefined): string | null {
  if (secs == null || Number.isNaN(secs)) return `Enter the poll interval in seconds (${POLL_MIN_SECS}–${POLL_MAX_SECS}).`;
  if (!Number.isInteger(secs) || secs < POLL_MIN_SECS || secs > POLL_MAX_SECS) {
    return `The poll interval must be between ${POLL_MIN_SECS} and ${POLL_MAX_SECS} seconds (got ${secs}).`;
  }
  return null;
}

export function validate(f: SettingsForm): FormErrors {
  const errors: FormErrors = {};
  const ws = pathError('workspace folder', f.workspace);
  if (ws) errors.workspace = ws;
  const cd = pathError('channel files folder', f.config_dir);
  if (cd) errors.config_dir = cd;
  const poll = pollError(f.notion_poll_secs);
  if (poll) errors.notion_poll_secs = poll;
  return errors;
}

export function hasErrors(e: FormErrors): boolean {
  return Object.values(e).some(Boolean);
}

/**
 * The update to send: the fields that changed (trimmed), null for the ones left as they were.
 * An emptied folder is sent as "": the desktop app goes back to its default folder.
 */
export function toUpdate(f: SettingsForm, saved: SettingsView): SettingsUpdate {
  const ws = f.workspace.trim();
  const cd = f.config_dir.trim();
  return {
    workspace: ws !== saved.workspace ? ws : null,
    config_dir: cd !== saved.config_dir ? cd : null,
    notion_poll_secs: f.notion_poll_secs !== saved.notion_poll_secs ? f.notion_poll_secs : null,
  };
}

/** True when saving would change nothing. */
export function isUnchanged(u: SettingsUpdate): boolean {
  return u.workspace === null && u.config_dir === null && u.notion_poll_secs === null;
}

/** What "Check connection" says when nothing is wrong. */
export const CHECK_CLEAN = 'Token and every database are as Review Desk needs.';

/** One database in the check report, as the screen lists it. */
export interface CheckDatabaseGroup {
  database: string;
  findings: NotionFinding[];
  added: string[];
}

/** One channel in the check report: only its databases with something to say. */
export interface CheckChannelGroup {
  /** "News (news)": the display name, and the file name when it differs. */
  channel: string;
  databases: CheckDatabaseGroup[];
}

function channelLabel(c: NotionChannelCheck): string {
  const name = c.channel_name.trim();
  if (!name || name === c.channel_id) return c.channel_id;
  return `${name} (${c.channel_id})`;
}

/** The report grouped by channel and database, leaving out databases with nothing wrong or added. */
export function checkGroups(r: NotionCheckReport): CheckChannelGroup[] {
  return r.channels
    .map((c) => ({
      channel: channelLabel(c),
      databases: c.databases
        .filter((d) => d.findings.length > 0 || d.added.length > 0)
        .map((d) => ({ database: d.database, findings: d.findings, added: d.added })),
    }))
    .filter((c) => c.databases.length > 0);
}

/** The report's first line: clean, or how many problems and how many the app can add. */
export function checkSummary(r: NotionCheckReport): string {
  const findings = r.channels.flatMap((c) => c.databases.flatMap((d) => d.findings));
  const added = r.channels.flatMap((c) => c.databases.flatMap((d) => d.added)).length;
  const addedText = added > 0 ? `Added ${added} missing ${added === 1 ? 'item' : 'items'}. ` : '';
  if (r.ok || findings.length === 0) return `${addedText}${CHECK_CLEAN}`;
  const fixable = findings.filter((f) => f.fixable).length;
  const problems = `${findings.length} ${findings.length === 1 ? 'problem' : 'problems'} found`;
  if (fixable === 0) return `${addedText}${problems}; fix them in Notion as named below.`;
  if (fixable === findings.length) return `${addedText}${problems}; Review Desk can add all of them.`;
  return `${addedText}${problems}; Review Desk can add ${fixable}, the rest must be fixed in Notion.`;
}

/** The paid providers in the order Settings lists them, with the prefix of their key names. */
export const PROVIDERS = [
  { provider: 'gemini', label: 'Gemini (pictures)' },
  { provider: 'kling', label: 'Kling (video clips)' },
  { provider: 'elevenlabs', label: 'ElevenLabs (narration and sound effects)' },
] as const;

export interface ProviderGroup {
  provider: string;
  label: string;
  keys: ProviderKeyView[];
}

/** The keys of each provider (`kling-access-key` belongs to `kling`), in the order above. */
export function providerGroups(keys: ProviderKeyView[]): ProviderGroup[] {
  return PROVIDERS.map((p) => ({
    provider: p.provider,
    label: p.label,
    keys: keys.filter((k) => k.name.startsWith(`${p.provider}-`)),
  }));
}

/** A key's field label: what part of the provider's credentials it is. */
export function keyLabel(name: string): string {
  if (name.endsWith('-access-key')) return 'Access key';
  if (name.endsWith('-secret-key')) return 'Secret key';
  if (name === 'kling-api-key') return 'API key (instead of the access and secret keys)';
  return 'API key';
}

/** Where a provider key comes from, in the creator's words. */
export function keySourceText(source: TokenSource, envVar: string): string {
  switch (source) {
    case 'keyring':
      return 'Stored in the OS keyring';
    case 'environment':
      return `From the ${envVar} environment variable`;
    case 'none':
      return 'Not set';
  }
}
