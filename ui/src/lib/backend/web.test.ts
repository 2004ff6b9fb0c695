import { describe, expect, it } from 'vitest';
import { route, webFileUrl } from './web';

describe('web transport routes', () => {
  it('maps commands to the HTTP API', () => {
    expect(route('list_tasks', { statuses: ['assets_ready', 'final_review'], channel_id: 'kids' })).toEqual({
      method: 'GET', path: '/api/tasks?status=assets_ready&status=final_review&channel=kids',
    });
    expect(route('list_tasks', { statuses: [], channel_id: null }).path).toBe('/api/tasks');
    expect(route('approve', { id: 'x', body: { note: null } })).toEqual({ method: 'POST', path: '/api/tasks/x/approve', body: { note: null } });
    expect(route('flag_asset', { id: 'x', name: 'hero_1', body: { flagged: true, note: null } }).path).toBe('/api/tasks/x/assets/hero_1/flag');
    expect(route('flag_asset', { id: 'x', name: 'hero_1', body: { flagged: true, note: null } }).method).toBe('PUT');
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
