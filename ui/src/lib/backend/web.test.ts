import { afterEach, describe, expect, it, vi } from 'vitest';
import { BackendError, DESKTOP_ONLY } from './transport';
import { route, SETTINGS_UNSUPPORTED, WebTransport, webFileUrl } from './web';

describe('web transport routes', () => {
  it('maps commands to the HTTP API', () => {
    expect(route('list_tasks', { statuses: ['assets_ready', 'final_review'], channel_id: 'kids' })).toEqual({
      method: 'GET', path: '/api/tasks?statuses=assets_ready&statuses=final_review&channel_id=kids',
    });
    expect(route('list_tasks', { statuses: [], channel_id: null }).path).toBe('/api/tasks');
    expect(route('approve', { id: 'x', body: { note: null } })).toEqual({ method: 'POST', path: '/api/tasks/x/approve', body: { note: null } });
    expect(route('flag_asset', { id: 'x', name: 'hero_1', body: { flagged: true, note: null } }).path).toBe('/api/tasks/x/assets/hero_1/flag');
    expect(route('flag_asset', { id: 'x', name: 'hero_1', body: { flagged: true, note: null } }).method).toBe('PUT');
    expect(route('get_task', { id: 'a/b' }).path).toBe('/api/tasks/a%2Fb');
    expect(route('list_tasks', { statuses: [], channel_id: null, limit: 20 }).path).toBe('/api/tasks?limit=20');
  });
  it('always sends a JSON body with a POST', () => {
    for (const r of [route('retry', { id: 'x' }), route('pause_worker', {}), route('resume_worker', {})]) {
      expect(r.method).toBe('POST');
      expect(r.body).toEqual({});
    }
  });
  it('builds file URLs with encoded segments', () => {
    expect(webFileUrl('', '.reviewdesk/thumbs/ab.jpg')).toBe('/files/.reviewdesk/thumbs/ab.jpg');
    expect(webFileUrl('', 'channels/a b/x#.png')).toBe('/files/channels/a%20b/x%23.png');
  });
});

describe('web transport and the desktop-only commands', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('refuses the settings commands without a request', async () => {
    const fetch = vi.fn();
    vi.stubGlobal('fetch', fetch);
    const t = new WebTransport('');
    const calls = [
      t.call('get_settings', {}),
      t.call('save_settings', { body: { workspace: '/w', config_dir: null, notion_poll_secs: null } }),
      t.call('set_notion_token', { token: 'secret_x' }),
      t.call('clear_notion_token', {}),
      t.call('check_notion', {}),
      t.call('add_missing_notion_properties', {}),
      t.call('set_provider_key', { name: 'gemini-api-key', value: 'AIza_x' }),
      t.call('clear_provider_key', { name: 'gemini-api-key' }),
      t.call('check_provider', { provider: 'gemini' }),
      t.call('set_autostart', { on: true }),
      t.call('open_logs_folder', {}),
      t.call('open_in_notion', { id: 't' }),
      t.call('save_export', { filename: 'reviewdesk-audit.csv', text: '' }),
      t.call('find_notion_pages', { query: '' }),
      t.call('create_notion_databases', { page_id: 'p', channel_id: 'default' }),
      // The page learns where its events start from the stream's first message instead.
      t.call('get_events_position', {}),
    ];
    expect(calls).toHaveLength(DESKTOP_ONLY.length);
    for (const c of calls) {
      const err = await c.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BackendError);
      expect(err).toMatchObject({ code: 'unsupported', message: SETTINGS_UNSUPPORTED });
    }
    expect(fetch).not.toHaveBeenCalled();
    expect(SETTINGS_UNSUPPORTED).toContain('README → Configuration');
  });

  it('still sends the other commands', async () => {
    const fetch = vi.fn(async () => new Response('{"ok":1}', { status: 200 }));
    vi.stubGlobal('fetch', fetch);
    await expect(new WebTransport('').call('get_status', {})).resolves.toEqual({ ok: 1 });
    expect(fetch).toHaveBeenCalledOnce();
  });

  it('says it is the web transport and never navigates', () => {
    const t = new WebTransport('');
    expect(t.kind).toBe('web');
    const sub = t.onNavigate(() => {
      throw new Error('no navigation over the web');
    });
    sub.close();
  });
});
