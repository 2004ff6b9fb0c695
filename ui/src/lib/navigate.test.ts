import { beforeEach, describe, expect, it, vi } from 'vitest';
import { app } from './store.svelte';

describe('navigation from the tray and notifications', () => {
  beforeEach(() => {
    vi.stubGlobal('location', { hash: '', search: '' });
    app.help = false;
    app.settings = false;
    app.route = { page: 'board' };
  });

  it('opens the task gallery, over whatever dialog is open', () => {
    app.help = true;
    app.settings = true;
    app.navigate({ kind: 'task', id: '0190c3a0-1111-7000-8000-000000000001' });
    expect(app.route).toEqual({ page: 'task', id: '0190c3a0-1111-7000-8000-000000000001' });
    expect(location.hash).toBe('#/task/0190c3a0-1111-7000-8000-000000000001');
    expect(app.help).toBe(false);
    expect(app.settings).toBe(false);
  });

  it('opens the settings where the creator is', () => {
    app.help = true;
    app.navigate({ kind: 'settings' });
    expect(app.settings).toBe(true);
    expect(app.help).toBe(false);
    expect(app.route).toEqual({ page: 'board' });
  });
});
