import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { clearMocks, mockConvertFileSrc, mockIPC, mockWindows } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import type { DomainEvent } from '../bindings/DomainEvent';
import { BackendError, type Navigation, type StreamState } from './transport';
import { TauriTransport, toBackendError } from './tauri';
import { createTransport } from './index';

// Vitest runs in Node: the mocks install `__TAURI_INTERNALS__` on a `window`, so give them one.
beforeEach(() => {
  vi.stubGlobal('window', globalThis);
  mockWindows('main');
});

afterEach(() => {
  clearMocks();
  delete (globalThis as Record<string, unknown>).__TAURI_INTERNALS__;
  delete (globalThis as Record<string, unknown>).__TAURI_EVENT_PLUGIN_INTERNALS__;
  vi.unstubAllGlobals();
});

const callbacks = () => (globalThis as unknown as { __TAURI_INTERNALS__: { callbacks: Map<number, unknown> } }).__TAURI_INTERNALS__.callbacks;
const flush = () => new Promise((r) => setTimeout(r, 0));

const event: DomainEvent = { type: 'task_updated', task_id: 't1' } as DomainEvent;

describe('TauriTransport.call', () => {
  it('passes the command and its arguments to invoke unchanged', async () => {
    const seen: [string, unknown][] = [];
    mockIPC((cmd, args) => {
      seen.push([cmd, args]);
      return { id: 't1' };
    });
    const t = new TauriTransport();
    const body = { feedback: 'redo the hero', flags: ['hero_1'] };
    await expect(t.call('reject', { id: 't1', body })).resolves.toEqual({ id: 't1' });
    await t.call('list_tasks', { statuses: ['assets_ready'], channel_id: null });
    await t.call('save_settings', { body: { workspace: '/w', config_dir: null, notion_poll_secs: 30 } });
    expect(seen).toEqual([
      ['reject', { id: 't1', body }],
      ['list_tasks', { statuses: ['assets_ready'], channel_id: null }],
      ['save_settings', { body: { workspace: '/w', config_dir: null, notion_poll_secs: 30 } }],
    ]);
  });

  it('turns an ApiError rejection into a BackendError with its code and message', async () => {
    mockIPC(() => Promise.reject({ code: 'not_found', message: 'No task t9.' }));
    const err = await new TauriTransport().call('get_task', { id: 't9' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect(err).toMatchObject({ code: 'not_found', message: 'No task t9.', status: null });
  });

  it('turns a string rejection into an internal BackendError', async () => {
    mockIPC(() => Promise.reject('command get_status not found'));
    const err = await new TauriTransport().call('get_status', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect(err).toMatchObject({ code: 'internal', message: 'command get_status not found' });
  });

  it('maps other rejections too', () => {
    expect(toBackendError(new Error('boom'))).toMatchObject({ code: 'internal', message: 'boom' });
    expect(toBackendError({ message: 'no code' })).toMatchObject({ code: 'internal', message: 'no code' });
    expect(toBackendError(42)).toMatchObject({ code: 'internal', message: '42' });
  });
});

describe('TauriTransport.fileUrl', () => {
  it('uses the reviewdesk scheme with the path encoded', () => {
    mockConvertFileSrc('linux');
    const url = new TauriTransport().fileUrl('channels/a b/x#.png');
    expect(url).toBe(`reviewdesk://localhost/${encodeURIComponent('channels/a b/x#.png')}`);
    expect(url).not.toContain(' ');
    expect(url).not.toContain('#');
  });

  it('uses the http form on Windows', () => {
    mockConvertFileSrc('windows');
    expect(new TauriTransport().fileUrl('.reviewdesk/thumbs/ab.jpg')).toBe(
      'http://reviewdesk.localhost/.reviewdesk%2Fthumbs%2Fab.jpg',
    );
  });
});

describe('TauriTransport.mediaUrl', () => {
  it('plays from the media server the app announced, the path encoded', () => {
    mockConvertFileSrc('linux');
    (globalThis as { __REVIEWDESK_MEDIA__?: string }).__REVIEWDESK_MEDIA__ = 'http://127.0.0.1:4100/s3cr3t/';
    try {
      expect(new TauriTransport().mediaUrl('p/video/clip 01.mp4')).toBe(
        'http://127.0.0.1:4100/s3cr3t/p%2Fvideo%2Fclip%2001.mp4',
      );
    } finally {
      delete (globalThis as { __REVIEWDESK_MEDIA__?: string }).__REVIEWDESK_MEDIA__;
    }
  });

  it('falls back to the file scheme without one', () => {
    mockConvertFileSrc('linux');
    expect(new TauriTransport().mediaUrl('p/a.mp3')).toBe(`reviewdesk://localhost/${encodeURIComponent('p/a.mp3')}`);
  });
});

/** A subscription that records each stream state with the position it came with. */
function followStates() {
  const states: [StreamState, number | undefined][] = [];
  const sub = new TauriTransport().subscribe(() => {}, (s, from) => states.push([s, from]));
  return { states, sub };
}

describe('TauriTransport.subscribe', () => {
  it('delivers domain events once live, and none after close', async () => {
    mockIPC(() => null, { shouldMockEvents: true });
    const events: DomainEvent[] = [];
    const states: StreamState[] = [];
    const sub = new TauriTransport().subscribe((e) => events.push(e), (s) => states.push(s));
    expect(states).toEqual(['connecting']);
    await flush();
    expect(states).toEqual(['connecting', 'live']);

    await emit('domain', event);
    await emit('other', { type: 'worker' });
    expect(events).toEqual([event]);

    sub.close();
    await flush();
    expect(callbacks().size).toBe(0);
    await emit('domain', event);
    expect(events).toEqual([event]);
  });

  it('is live from the position the app names once the listeners are registered', async () => {
    let through = 42;
    mockIPC(
      (cmd) => (cmd === 'get_events_position' ? { through } : null),
      { shouldMockEvents: true },
    );
    const { states, sub } = followStates();
    await flush();
    expect(states).toEqual([
      ['connecting', undefined],
      ['live', 42],
    ]);

    // Events the app could not forward: down, then live again from where events now start.
    through = 57;
    await emit('events-lost');
    await flush();
    expect(states.slice(2)).toEqual([
      ['reconnecting', undefined],
      ['live', 57],
    ]);
    sub.close();
  });

  it('asks the position only once the app has registered its listeners', async () => {
    const order: string[] = [];
    const registrations: (() => void)[] = [];
    mockIPC((cmd) => {
      if (cmd === 'plugin:event|listen') {
        return new Promise((resolve) => registrations.push(() => (order.push('registered'), resolve(1))));
      }
      if (cmd === 'get_events_position') {
        order.push('position');
        return { through: 7 };
      }
      return null;
    });
    const { states, sub } = followStates();
    await flush();
    // Asked earlier, events between the answer and the registration would be lost.
    expect(order).toEqual([]);
    expect(registrations).toHaveLength(2);
    for (const register of registrations) register();
    await flush();
    expect(order).toEqual(['registered', 'registered', 'position']);
    expect(states).toEqual([
      ['connecting', undefined],
      ['live', 7],
    ]);
    sub.close();
  });

  it('is live without a position when the app cannot name one (the board is then read again)', async () => {
    mockIPC(
      (cmd) => {
        if (cmd === 'get_events_position') throw { code: 'unavailable', message: 'Review Desk did not start' };
        return null;
      },
      { shouldMockEvents: true },
    );
    const { states, sub } = followStates();
    await flush();
    expect(states).toEqual([
      ['connecting', undefined],
      ['live', undefined],
    ]);
    sub.close();
  });

  it('undoes the registration when closed before listen resolves', async () => {
    mockIPC(() => null, { shouldMockEvents: true });
    const events: DomainEvent[] = [];
    const states: StreamState[] = [];
    const sub = new TauriTransport().subscribe((e) => events.push(e), (s) => states.push(s));
    sub.close(); // before `listen` has resolved
    await flush();
    await emit('domain', event);
    expect(events).toEqual([]);
    expect(states).toEqual(['connecting']); // never reported live
    expect(callbacks().size).toBe(0); // the late registration was undone
  });
});

describe('TauriTransport.onNavigate', () => {
  it('turns open-task and open-settings into navigations', async () => {
    mockIPC(() => null, { shouldMockEvents: true });
    const navs: Navigation[] = [];
    const sub = new TauriTransport().onNavigate((n) => navs.push(n));
    await flush();
    await emit('open-task', '0190c3a0-1111-7000-8000-000000000001');
    await emit('open-settings');
    await emit('open-task', ''); // malformed: ignored
    expect(navs).toEqual([
      { kind: 'task', id: '0190c3a0-1111-7000-8000-000000000001' },
      { kind: 'settings' },
    ]);
    sub.close();
    await flush();
    await emit('open-settings');
    expect(navs).toHaveLength(2);
  });
});

describe('createTransport', () => {
  it('picks the desktop transport inside the app and the web one elsewhere', async () => {
    expect((await createTransport()).kind).toBe('desktop');
    clearMocks();
    delete (globalThis as Record<string, unknown>).__TAURI_INTERNALS__;
    expect((await createTransport()).kind).toBe('web');
  });
});
