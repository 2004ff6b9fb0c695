// HTTP + server-sent events transport, for `reviewdesk serve` in a browser.
import type { ApiError } from '../bindings/ApiError';
import type { DomainEvent } from '../bindings/DomainEvent';
import type { HttpRoute } from '../bindings/Commands';
import { HTTP_ROUTES } from '../bindings/Commands';
import {
  BackendError,
  type Command,
  type Commands,
  type Navigation,
  type StreamState,
  type Subscription,
  type Transport,
} from './transport';

interface Route {
  method: HttpRoute['method'];
  path: string;
  body?: unknown;
}

const seg = encodeURIComponent;

/** Why the settings commands are refused over HTTP (shown by the settings screen in a browser). */
export const SETTINGS_UNSUPPORTED =
  'Settings are edited in the desktop app; for `reviewdesk serve` use environment variables (see README → Configuration).';

/**
 * Where a command goes over HTTP, from its generated route: `{id}`/`{name}` filled from the
 * arguments of the same names; a GET sends the other arguments as the query (a list as repeated
 * keys, null left out); a write sends `body`, or `{}`. Exported for the unit test. Throws a
 * `BackendError` (`unsupported`) for the commands only the desktop app serves.
 */
export function route<C extends Command>(command: C, args: Commands[C]['args']): Route {
  const r = HTTP_ROUTES[command];
  if (!r) throw new BackendError('unsupported', SETTINGS_UNSUPPORTED);
  const rest: Record<string, unknown> = { ...(args as Record<string, unknown>) };
  const path = r.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const v = rest[name];
    delete rest[name];
    return seg(String(v));
  });
  if (r.method === 'GET') {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(rest)) {
      for (const item of Array.isArray(v) ? v : [v]) if (item !== null && item !== undefined) q.append(k, String(item));
    }
    const qs = q.toString();
    return { method: 'GET', path: qs ? `${path}?${qs}` : path };
  }
  return { method: r.method, path, body: r.body === 'json' ? rest.body : {} };
}

/** `/files/<path>` with each segment encoded and the slashes kept. */
export function webFileUrl(base: string, relPath: string): string {
  return `${base}/files/${relPath.split('/').filter(Boolean).map(seg).join('/')}`;
}

export class WebTransport implements Transport {
  readonly kind = 'web';

  constructor(private readonly base = '') {}

  async call<C extends Command>(command: C, args: Commands[C]['args']): Promise<Commands[C]['result']> {
    const r = route(command, args);
    const init: RequestInit = { method: r.method, headers: { Accept: 'application/json' } };
    if (r.method !== 'GET') {
      // The server refuses a POST/PUT without a JSON body (CSRF protection): always send one.
      init.headers = { Accept: 'application/json', 'Content-Type': 'application/json' };
      init.body = JSON.stringify(r.body ?? {});
    }
    let res: Response;
    try {
      res = await fetch(this.base + r.path, init);
    } catch (e) {
      throw new BackendError('network', `Cannot reach Review Desk (${(e as Error).message}).`);
    }
    if (!res.ok) {
      let err: ApiError = { code: `http_${res.status}`, message: `${res.status} ${res.statusText}` };
      try {
        const j = (await res.json()) as Partial<ApiError>;
        if (j && typeof j.message === 'string') err = { code: j.code ?? err.code, message: j.message };
      } catch {
        /* not JSON: keep the status line */
      }
      throw new BackendError(err.code, err.message, res.status);
    }
    if (res.status === 204) return null as Commands[C]['result'];
    const text = await res.text();
    return (text ? JSON.parse(text) : null) as Commands[C]['result'];
  }

  subscribe(onEvent: (e: DomainEvent) => void, onState: (s: StreamState, from?: number) => void): Subscription {
    // EventSource reconnects by itself; we only report the state. The stream is live once its
    // first message says where it starts (sent on every (re)connection).
    const es = new EventSource(`${this.base}/api/events`);
    onState('connecting');
    let everOpen = false;
    es.addEventListener('position', ((m: MessageEvent<string>) => {
      everOpen = true;
      const through = (JSON.parse(m.data) as { through?: unknown }).through;
      onState('live', typeof through === 'number' ? through : undefined);
    }) as EventListener);
    es.onerror = () => onState(everOpen ? 'reconnecting' : 'connecting');
    const handle = (m: MessageEvent<string>) => {
      try {
        onEvent(JSON.parse(m.data) as DomainEvent);
      } catch {
        /* ignore a malformed message */
      }
    };
    es.addEventListener('domain', handle as EventListener);
    es.onmessage = handle; // unnamed messages too, should the server send them
    return { close: () => es.close() };
  }

  fileUrl(relPath: string): string {
    return webFileUrl(this.base, relPath);
  }

  mediaUrl(relPath: string): string {
    return this.fileUrl(relPath);
  }

  /** A browser has no tray or native notifications to navigate from. */
  onNavigate(_handler: (nav: Navigation) => void): Subscription {
    return { close() {} };
  }
}
