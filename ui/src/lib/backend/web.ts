// HTTP + server-sent events transport, for `reviewdesk serve` in a browser.
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

type Method = 'GET' | 'POST' | 'PUT';
interface Route {
  method: Method;
  path: string;
  body?: unknown;
}

const seg = encodeURIComponent;

/** Why the settings commands are refused over HTTP (shown by the settings screen in a browser). */
export const SETTINGS_UNSUPPORTED =
  'Settings are edited in the desktop app; for `reviewdesk serve` use environment variables (see README → Configuration).';

/**
 * Where each command goes over HTTP. Exported for the unit test. Throws a `BackendError`
 * (`unsupported`) for the commands only the desktop app serves.
 */
export function route<C extends Command>(command: C, args: Commands[C]['args']): Route {
  // The switch narrows by command; args are cast per case (TypeScript cannot correlate them).
  const a = args as Record<string, unknown> & { id: string; name: string; body: unknown };
  const cmd: Command = command; // not generic, so the switch below is checked for exhaustiveness
  switch (cmd) {
    case 'list_tasks': {
      const { statuses, channel_id } = args as Commands['list_tasks']['args'];
      const q = new URLSearchParams();
      for (const s of statuses) q.append('status', s);
      if (channel_id) q.set('channel', channel_id);
      const qs = q.toString();
      return { method: 'GET', path: `/api/tasks${qs ? `?${qs}` : ''}` };
    }
    case 'get_task':
      return { method: 'GET', path: `/api/tasks/${seg(a.id)}` };
    case 'create_task':
      return { method: 'POST', path: '/api/tasks', body: a.body };
    case 'approve':
      return { method: 'POST', path: `/api/tasks/${seg(a.id)}/approve`, body: a.body };
    case 'reject':
      return { method: 'POST', path: `/api/tasks/${seg(a.id)}/reject`, body: a.body };
    case 'flag_asset':
      return { method: 'PUT', path: `/api/tasks/${seg(a.id)}/assets/${seg(a.name)}/flag`, body: a.body };
    case 'bulk_approve':
      return { method: 'POST', path: '/api/bulk/approve', body: a.body };
    case 'bulk_reject':
      return { method: 'POST', path: '/api/bulk/reject', body: a.body };
    case 'retry':
      return { method: 'POST', path: `/api/tasks/${seg(a.id)}/retry`, body: {} };
    case 'cancel':
      return { method: 'POST', path: `/api/tasks/${seg(a.id)}/cancel`, body: a.body };
    case 'get_status':
      return { method: 'GET', path: '/api/status' };
    case 'pause_worker':
      return { method: 'POST', path: '/api/worker/pause', body: {} };
    case 'resume_worker':
      return { method: 'POST', path: '/api/worker/resume', body: {} };
    case 'get_settings':
    case 'save_settings':
    case 'set_notion_token':
    case 'clear_notion_token':
    case 'check_notion':
    case 'add_missing_notion_properties':
      throw new BackendError('unsupported', SETTINGS_UNSUPPORTED);
    default: {
      const unknown: never = cmd;
      throw new Error(`unknown command ${String(unknown)}`);
    }
  }
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

  subscribe(onEvent: (e: DomainEvent) => void, onState: (s: StreamState) => void): Subscription {
    // EventSource reconnects by itself; we only report the state.
    const es = new EventSource(`${this.base}/api/events`);
    onState('connecting');
    let everOpen = false;
    es.onopen = () => {
      everOpen = true;
      onState('live');
    };
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

  /** A browser has no tray or native notifications to navigate from. */
  onNavigate(_handler: (nav: Navigation) => void): Subscription {
    return { close() {} };
  }
}
