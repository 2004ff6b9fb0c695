// The desktop transport: commands through `invoke`, domain events through `listen('domain')`,
// workspace files through the app's own `reviewdesk://` URI scheme. Loaded only inside the
// desktop app's webview (see index.ts), so the web build never runs it.
import { convertFileSrc, invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type { ApiError } from '../bindings/ApiError';
import type { DomainEvent } from '../bindings/DomainEvent';
import {
  BackendError,
  type Command,
  type Commands,
  type Navigation,
  type StreamState,
  type Subscription,
  type Transport,
} from './transport';

/** The URI scheme the Rust side serves workspace files on (decoded and confined to the workspace). */
export const FILE_SCHEME = 'reviewdesk';

/** The events the Rust side emits. */
export const EVENTS = {
  domain: 'domain',
  eventsLost: 'events-lost',
  openTask: 'open-task',
  openSettings: 'open-settings',
} as const;

/** A rejected `invoke` as a `BackendError`: commands reject with an `ApiError`, Tauri itself with a string. */
export function toBackendError(e: unknown): BackendError {
  if (e instanceof BackendError) return e;
  if (typeof e === 'string') return new BackendError('internal', e);
  if (e && typeof e === 'object' && typeof (e as Partial<ApiError>).message === 'string') {
    const { code, message } = e as Partial<ApiError> & { message: string };
    return new BackendError(typeof code === 'string' && code !== '' ? code : 'internal', message);
  }
  return new BackendError('internal', String(e));
}

/**
 * Several `listen` registrations as one subscription. `close()` may come before `listen`
 * resolves: a late registration is then undone at once, and nothing is delivered after `close()`.
 */
class Listeners implements Subscription {
  #closed = false;
  #unlisten: UnlistenFn[] = [];

  constructor(starts: Promise<UnlistenFn>[], onReady?: () => void) {
    for (const p of starts) {
      p.then(
        (un) => (this.#closed ? Listeners.#stop(un) : this.#unlisten.push(un)),
        (e: unknown) => console.error('Review Desk: cannot listen to desktop events', e),
      );
    }
    Promise.all(starts).then(
      () => {
        if (!this.#closed) onReady?.();
      },
      () => {},
    );
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const un of this.#unlisten.splice(0)) Listeners.#stop(un);
  }

  static #stop(un: UnlistenFn): void {
    // The unlisten function returns a promise at run time; a failure there is of no use to anyone.
    Promise.resolve()
      .then(un)
      .catch(() => {});
  }
}

export class TauriTransport implements Transport {
  readonly kind = 'desktop';

  async call<C extends Command>(command: C, args: Commands[C]['args']): Promise<Commands[C]['result']> {
    try {
      // The Rust commands take snake_case arguments (`rename_all = "snake_case"`): pass them as they are.
      return await invoke<Commands[C]['result']>(command, args);
    } catch (e) {
      throw toBackendError(e);
    }
  }

  subscribe(onEvent: (e: DomainEvent) => void, onState: (s: StreamState, from?: number) => void): Subscription {
    // Events come from the same process: once the listener is registered, every event after the
    // position the app then names reaches it (a board read reflecting that position has missed
    // nothing, so start-up reads the board once). Without a position the UI reads again.
    const live = async () => {
      let from: number | undefined; // none if the app cannot name it: the UI then reads again
      try {
        from = (await this.call('get_events_position', {})).through;
      } catch {}
      if (!sub.closed) onState('live', from);
    };
    onState('connecting');
    const sub: Listeners = new Listeners(
      [
        listen<DomainEvent>(EVENTS.domain, (e) => !sub.closed && onEvent(e.payload)),
        // The app could not forward some events (the window fell behind): catch up as after a
        // dropped stream.
        listen<null>(EVENTS.eventsLost, () => {
          if (sub.closed) return;
          onState('reconnecting');
          void live();
        }),
      ],
      () => void live(),
    );
    return sub;
  }

  fileUrl(relPath: string): string {
    return convertFileSrc(relPath, FILE_SCHEME);
  }

  /**
   * Media from the app's loopback media server: WebKitGTK's players fetch only http(s), never
   * the `reviewdesk:` scheme. The server's base URL (with its per-launch secret) is set by the
   * Rust side before the UI loads; without it, the scheme (images and downloads still work).
   */
  mediaUrl(relPath: string): string {
    const base = (globalThis as { __REVIEWDESK_MEDIA__?: unknown }).__REVIEWDESK_MEDIA__;
    return typeof base === 'string' && base !== '' ? base + encodeURIComponent(relPath) : this.fileUrl(relPath);
  }

  onNavigate(handler: (nav: Navigation) => void): Subscription {
    const sub: Listeners = new Listeners([
      listen<string>(EVENTS.openTask, (e) => {
        if (!sub.closed && typeof e.payload === 'string' && e.payload !== '') handler({ kind: 'task', id: e.payload });
      }),
      listen<null>(EVENTS.openSettings, () => !sub.closed && handler({ kind: 'settings' })),
    ]);
    return sub;
  }
}
