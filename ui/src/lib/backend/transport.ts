// The seam between the UI and whatever hosts the core (GitButler's backend/{backend,tauri,web}.ts).
// Every call the UI makes is a named command with JSON arguments; a transport carries it.
// - web.ts: HTTP + server-sent events against `reviewdesk serve` (now).
// - tauri.ts: `invoke(command, args)` and `listen('domain', ...)` in the desktop app, image URLs
//   through `convertFileSrc(path, 'reviewdesk')`.
import type { Command, Commands } from '../bindings/Commands';
import { DESKTOP_COMMANDS, HTTP_ROUTES } from '../bindings/Commands';
import type { DomainEvent } from '../bindings/DomainEvent';

// Every command, its arguments and result, and its HTTP route are generated from the Rust
// declaration (crates/api): one place names them all.
export type { Command, Commands };

/** Commands only the desktop app serves (no HTTP route); over HTTP they are refused with code `unsupported`. */
export const DESKTOP_ONLY: readonly Command[] = DESKTOP_COMMANDS.filter((c) => !(c in HTTP_ROUTES));

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
   * Subscribe to domain events. `onState` reports the stream's state; once 'live' (again) the
   * UI refetches what it shows if events may have been missed: `from`, when the transport
   * knows it, is the last event-log entry before the stream's start (see lib/catchup.ts).
   */
  subscribe(onEvent: (e: DomainEvent) => void, onState: (s: StreamState, from?: number) => void): Subscription;
  /** A URL the webview can load for a file relative to the workspace. */
  fileUrl(relPath: string): string;
  /** A URL a `<video>` or `<audio>` can play a workspace file from (may differ from `fileUrl`). */
  mediaUrl(relPath: string): string;
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
