// The seam between the UI and whatever hosts the core (GitButler's backend/{backend,tauri,web}.ts).
// Every call the UI makes is a named command with JSON arguments; a transport carries it.
// - web.ts: HTTP + server-sent events against `reviewdesk serve` (now).
// - tauri.ts: `invoke(command, args)` and `listen('domain', ...)` in the desktop app, image URLs
//   through `convertFileSrc(path, 'reviewdesk')`.
import type { AppStatus } from '../bindings/AppStatus';
import type { ApproveRequest } from '../bindings/ApproveRequest';
import type { BulkRequest } from '../bindings/BulkRequest';
import type { CancelRequest } from '../bindings/CancelRequest';
import type { DomainEvent } from '../bindings/DomainEvent';
import type { FlagRequest } from '../bindings/FlagRequest';
import type { NewTask } from '../bindings/NewTask';
import type { NotionCheckReport } from '../bindings/runtime/NotionCheckReport';
import type { RejectRequest } from '../bindings/RejectRequest';
import type { SettingsUpdate } from '../bindings/SettingsUpdate';
import type { SettingsView } from '../bindings/SettingsView';
import type { Status } from '../bindings/Status';
import type { Task } from '../bindings/Task';
import type { TaskDetail } from '../bindings/TaskDetail';
import type { TaskId } from '../bindings/TaskId';

/** Every command: its arguments and its result. Names are the Tauri command names to come. */
export interface Commands {
  list_tasks: { args: { statuses: Status[]; channel_id: string | null }; result: Task[] };
  get_task: { args: { id: TaskId }; result: TaskDetail };
  create_task: { args: { body: NewTask }; result: Task };
  approve: { args: { id: TaskId; body: ApproveRequest }; result: Task };
  reject: { args: { id: TaskId; body: RejectRequest }; result: Task };
  flag_asset: { args: { id: TaskId; name: string; body: FlagRequest }; result: null };
  bulk_approve: { args: { body: BulkRequest }; result: Task[] };
  bulk_reject: { args: { body: BulkRequest }; result: Task[] };
  retry: { args: { id: TaskId }; result: Task };
  cancel: { args: { id: TaskId; body: CancelRequest }; result: Task };
  get_status: { args: Record<string, never>; result: AppStatus };
  pause_worker: { args: Record<string, never>; result: AppStatus };
  resume_worker: { args: Record<string, never>; result: AppStatus };
  // Desktop app only (see DESKTOP_ONLY): settings live in the app's settings file and the OS keyring.
  get_settings: { args: Record<string, never>; result: SettingsView };
  save_settings: { args: { body: SettingsUpdate }; result: SettingsView };
  set_notion_token: { args: { token: string }; result: SettingsView };
  clear_notion_token: { args: Record<string, never>; result: SettingsView };
  check_notion: { args: Record<string, never>; result: NotionCheckReport };
  add_missing_notion_properties: { args: Record<string, never>; result: NotionCheckReport };
}

export type Command = keyof Commands;

/** Commands only the desktop app serves; over HTTP they are refused with code `unsupported`. */
export const DESKTOP_ONLY = [
  'get_settings',
  'save_settings',
  'set_notion_token',
  'clear_notion_token',
  'check_notion',
  'add_missing_notion_properties',
] as const satisfies readonly Command[];

/** Where the UI runs: a browser on `reviewdesk serve`, or the desktop app's webview. */
export type TransportKind = 'web' | 'desktop';

/** A request from outside the window (a tray entry, a notification) to show something. */
export type Navigation = { kind: 'task'; id: string } | { kind: 'settings' };

/** Connection state of the event stream, for the status bar. */
export type StreamState = 'connecting' | 'live' | 'reconnecting';

export interface Subscription {
  close(): void;
}

export interface Transport {
  /** Which host this is: the settings screen exists only on the desktop. */
  readonly kind: TransportKind;
  /** Run a command; rejects with an `ApiError`-shaped `BackendError`. */
  call<C extends Command>(command: C, args: Commands[C]['args']): Promise<Commands[C]['result']>;
  /**
   * Subscribe to domain events. `onState` reports the stream's state; after a reconnect
   * ('live' again) the UI refetches what it shows, since events may have been missed.
   */
  subscribe(onEvent: (e: DomainEvent) => void, onState: (s: StreamState) => void): Subscription;
  /** A URL the webview can load for a file relative to the workspace. */
  fileUrl(relPath: string): string;
  /** Navigation requested by the host (tray, notifications). Absent: the host never asks. */
  onNavigate?(handler: (nav: Navigation) => void): Subscription;
}

/** An error from the backend: the server's `{code, message}` plus the HTTP status when known. */
export class BackendError extends Error {
  readonly code: string;
  readonly status: number | null;
  constructor(code: string, message: string, status: number | null = null) {
    super(message);
    this.name = 'BackendError';
    this.code = code;
    this.status = status;
  }
}
