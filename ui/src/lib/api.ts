// The one api module of the UI: typed calls over whichever transport hosts the core.
import type { ApproveRequest } from './bindings/ApproveRequest';
import type { AppStatus } from './bindings/AppStatus';
import type { AssetRecord } from './bindings/AssetRecord';
import type { AuditExport } from './bindings/AuditExport';
import type { AuditFormat } from './bindings/AuditFormat';
import type { Chapter } from './bindings/Chapter';
import type { ChannelForm } from './bindings/ChannelForm';
import type { ChannelSummary } from './bindings/ChannelSummary';
import type { Diagnostics } from './bindings/Diagnostics';
import type { DomainEvent } from './bindings/DomainEvent';
import type { NewTask } from './bindings/NewTask';
import type { NotionCheckReport } from './bindings/NotionCheckReport';
import type { NotionLink } from './bindings/NotionLink';
import type { NotionPageChoice } from './bindings/NotionPageChoice';
import type { Peaks } from './bindings/Peaks';
import type { ProviderCheck } from './bindings/ProviderCheck';
import type { Scene } from './bindings/Scene';
import type { SceneEdit } from './bindings/SceneEdit';
import type { Status } from './bindings/Status';
import type { SettingsUpdate } from './bindings/SettingsUpdate';
import type { SettingsView } from './bindings/SettingsView';
import type { Task } from './bindings/Task';
import type { BoardTasks } from './bindings/BoardTasks';
import type { TaskDetail } from './bindings/TaskDetail';
import {
  BackendError,
  createTransport,
  WebTransport,
  type Navigation,
  type StreamState,
  type Subscription,
  type Transport,
  type TransportKind,
} from './backend';

export { BackendError };
export type { Navigation, StreamState };

// Replaced by `initTransport()` before the app starts (main.ts).
let transport: Transport = new WebTransport('');

/** Pick the transport for where the UI runs (the desktop one is loaded on demand). */
export async function initTransport(): Promise<void> {
  transport = await createTransport();
}

/** For tests: run the UI over another transport. */
export function setTransport(t: Transport): void {
  transport = t;
}

export const api = {
  /** 'desktop' in the desktop app (settings, tray), 'web' in a browser. */
  get kind(): TransportKind {
    return transport.kind;
  },
  /** The board: every unfinished task, the latest `latest` of each finished status, exact counts. */
  getBoard: (q: string | null, latest: number): Promise<BoardTasks> =>
    transport.call('get_board', q ? { q, latest } : { latest }),
  /** A finished column's next page (newest first, after `before`). */
  listMore: (status: Status, channel_id: string | null, q: string, before: string, limit: number): Promise<Task[]> =>
    transport.call('list_tasks', {
      statuses: [status],
      channel_id,
      order: 'recent',
      before,
      limit,
      ...(q ? { q } : {}),
    }),
  getTask: (id: string): Promise<TaskDetail> => transport.call('get_task', { id }),
  createTask: (body: NewTask): Promise<Task> => transport.call('create_task', { body }),
  listChannels: (): Promise<ChannelSummary[]> => transport.call('list_channels', {}),
  approve: (id: string, note: string | null = null): Promise<Task> =>
    transport.call('approve', { id, body: { note } satisfies ApproveRequest }),
  reject: (id: string, feedback: string, flags: string[] | null): Promise<Task> =>
    transport.call('reject', { id, body: { feedback, flags } }),
  flag: (id: string, name: string, flagged: boolean, note: string | null = null): Promise<null> =>
    transport.call('flag_asset', { id, name, body: { flagged, note } }),
  peaks: (file: string): Promise<Peaks> => transport.call('media_peaks', { file }),
  chapters: (file: string): Promise<Chapter[]> => transport.call('media_chapters', { file }),
  editScene: (id: string, scene: number, body: SceneEdit): Promise<Scene> =>
    transport.call('edit_scene', { id, scene: String(scene), body }),
  bulkApprove: (task_ids: string[], reason: string | null = null): Promise<Task[]> =>
    transport.call('bulk_approve', { body: { task_ids, reason } }),
  bulkReject: (task_ids: string[], reason: string): Promise<Task[]> =>
    transport.call('bulk_reject', { body: { task_ids, reason } }),
  retry: (id: string): Promise<Task> => transport.call('retry', { id }),
  cancel: (id: string, reason: string | null = null): Promise<Task> =>
    transport.call('cancel', { id, body: { reason } }),
  status: (): Promise<AppStatus> => transport.call('get_status', {}),
  diagnostics: (): Promise<Diagnostics> => transport.call('get_diagnostics', {}),
  pauseWorker: (): Promise<AppStatus> => transport.call('pause_worker', {}),
  resumeWorker: (): Promise<AppStatus> => transport.call('resume_worker', {}),
  subscribe: (onEvent: (e: DomainEvent) => void, onState: (s: StreamState, from?: number) => void): Subscription =>
    transport.subscribe(onEvent, onState),
  fileUrl: (relPath: string): string => transport.fileUrl(relPath),
  /** Where a `<video>` or `<audio>` plays a workspace file from. */
  mediaUrl: (relPath: string): string => transport.mediaUrl(relPath),
  /** Tray entries and notifications asking to show a task or the settings (desktop only). */
  onNavigate: (handler: (nav: Navigation) => void): Subscription =>
    transport.onNavigate?.(handler) ?? { close() {} },
  /** Changes what an asset is drawn from (Assets Ready or Asset Error); the next version uses it. */
  editAssetPrompt: (id: string, name: string, prompt: string): Promise<AssetRecord> =>
    transport.call('edit_asset_prompt', { id, name, body: { prompt } }),
  getSettings: (): Promise<SettingsView> => transport.call('get_settings', {}),
  saveSettings: (body: SettingsUpdate): Promise<SettingsView> => transport.call('save_settings', { body }),
  setNotionToken: (token: string): Promise<SettingsView> => transport.call('set_notion_token', { token }),
  clearNotionToken: (): Promise<SettingsView> => transport.call('clear_notion_token', {}),
  /** Settings → Check connection: the token and every channel's Notion databases. */
  checkNotion: (): Promise<NotionCheckReport> => transport.call('check_notion', {}),
  /** Settings → Add what is missing (never changes a property's type); answers a new check. */
  addMissingNotionProperties: (): Promise<NotionCheckReport> => transport.call('add_missing_notion_properties', {}),
  /** The channel editor's form of one channel. */
  getChannel: (channel: string): Promise<ChannelForm> => transport.call('get_channel', { channel }),
  /** Adds a channel (no `original_id`) or changes one; answers the form as now configured. */
  saveChannel: (body: ChannelForm): Promise<ChannelForm> => transport.call('save_channel', { body }),
  /** The record of human review for a range of UTC days (YYYY-MM-DD) and a channel, as CSV or JSON text. */
  exportAudit: (q: { from?: string; to?: string; channel_id?: string; format?: AuditFormat }): Promise<AuditExport> =>
    transport.call('export_audit', q),
  /** Desktop: saves an export into the Downloads folder; answers the file's path. */
  saveExport: (filename: string, text: string): Promise<string> => transport.call('save_export', { filename, text }),
  /** Desktop: the task's (or an asset's) Notion page in the browser (answers its address). */
  openInNotion: (id: string, asset?: string): Promise<string> => transport.call('open_in_notion', { id, asset }),
  /** Where a task (or one of its assets) is in Notion; null until the mirror made the page. */
  notionLink: (id: string, asset?: string): Promise<NotionLink> => transport.call('get_notion_link', { id, asset }),
  /** Desktop: the log folder in the file manager (answers its path). */
  openLogsFolder: (): Promise<string> => transport.call('open_logs_folder', {}),
  /** Settings → Start at login (the desktop's autostart entry). */
  setAutostart: (on: boolean): Promise<SettingsView> => transport.call('set_autostart', { on }),
  /** Connect a channel: the Notion pages shared with the integration whose title has `query`. */
  findNotionPages: (query: string): Promise<NotionPageChoice[]> => transport.call('find_notion_pages', { query }),
  /** Connect a channel: its four databases under `pageId`, ids into its file, the mirror started. */
  createNotionDatabases: (pageId: string, channelId: string): Promise<ChannelForm> =>
    transport.call('create_notion_databases', { page_id: pageId, channel_id: channelId }),
  /** Settings → Providers: store a key (by its keyring name) in the OS keyring; the worker uses it next. */
  setProviderKey: (name: string, value: string): Promise<SettingsView> => transport.call('set_provider_key', { name, value }),
  clearProviderKey: (name: string): Promise<SettingsView> => transport.call('clear_provider_key', { name }),
  /** Settings → Providers → Check connection: one free call with the key, per host the channels use. */
  checkProvider: (provider: string): Promise<ProviderCheck> => transport.call('check_provider', { provider }),
};

/** True when the backend says the thing asked for does not exist. */
export function isNotFound(e: unknown): boolean {
  const err = e as { code?: unknown; status?: unknown } | null;
  return !!err && (err.status === 404 || err.code === 'not_found');
}

/** The message to show the creator for any failure. */
export function errorMessage(e: unknown): string {
  if (e instanceof BackendError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
