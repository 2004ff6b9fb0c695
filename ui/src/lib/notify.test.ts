import { describe, expect, it } from 'vitest';
import { BrowserNotifier, REVIEW_READY_BODY, type NotificationHost } from './notify';

/** A recording double of the browser's Notification class. */
function fakeHost(permission: NotificationPermission, answer: NotificationPermission = permission) {
  const shown: { title: string; options?: NotificationOptions; closed: boolean; onclick: (() => void) | null }[] = [];
  class FakeNotification {
    static permission = permission;
    static async requestPermission() {
      FakeNotification.permission = answer;
      return answer;
    }
    onclick: (() => void) | null = null;
    constructor(title: string, options?: NotificationOptions) {
      shown.push(this as unknown as (typeof shown)[number]);
      Object.assign(this, { title, options, closed: false });
    }
    close() {
      (this as unknown as { closed: boolean }).closed = true;
    }
  }
  return { host: FakeNotification as unknown as NotificationHost, shown };
}

// The event carries its headline, built once in core (event.rs `review_ready_headline`).
const event = { task_id: 't1', headline: 'Assets ready — Deep sea (22 images)' };

describe('BrowserNotifier', () => {
  it('shows nothing until the creator allows it', async () => {
    const { host, shown } = fakeHost('default', 'granted');
    const n = new BrowserNotifier(host);
    expect(n.permission).toBe('default');
    expect(n.reviewReady(event, () => {})).toBe(false);
    expect(shown).toHaveLength(0);
    expect(await n.request()).toBe('granted');
    expect(n.reviewReady(event, () => {})).toBe(true);
    expect(shown[0].title).toBe('Assets ready — Deep sea (22 images)');
    expect(shown[0].options?.tag).toBe('review-t1');
    expect(shown[0].options?.body).toBe(REVIEW_READY_BODY);
  });

  it('opens the task on a click and closes the notification', () => {
    const { host, shown } = fakeHost('granted');
    const opened: string[] = [];
    new BrowserNotifier(host).reviewReady(event, (id) => opened.push(id));
    shown[0].onclick?.();
    expect(opened).toEqual(['t1']);
    expect(shown[0].closed).toBe(true);
  });

  it('stays quiet when refused or unsupported', async () => {
    const { host, shown } = fakeHost('denied');
    expect(new BrowserNotifier(host).reviewReady(event, () => {})).toBe(false);
    expect(shown).toHaveLength(0);
    const none = new BrowserNotifier(null);
    expect(none.permission).toBe('unsupported');
    expect(await none.request()).toBe('unsupported');
    expect(none.reviewReady(event, () => {})).toBe(false);
  });
});

describe('BrowserNotifier.watch', () => {
  /** A Permissions API double whose answer the test changes, as site settings would. */
  function fakePermissions(state: PermissionState) {
    const status = { state, onchange: null as (() => void) | null };
    return { permissions: { query: async () => status }, status };
  }

  it('reads the permission without the blocking getter and follows later changes', async () => {
    const { host } = fakeHost('default');
    Object.defineProperty(host, 'permission', {
      get: () => {
        throw new Error('the blocking getter was read');
      },
    });
    const { permissions, status } = fakePermissions('prompt');
    const seen: string[] = [];
    await new BrowserNotifier(host, permissions).watch((p) => seen.push(p));
    expect(seen).toEqual(['default']);
    status.state = 'denied';
    status.onchange?.();
    expect(seen).toEqual(['default', 'denied']);
  });

  it('falls back to the getter where the Permissions API cannot answer, and says unsupported without notifications', async () => {
    const { host } = fakeHost('granted');
    const refusing = { query: async () => Promise.reject(new TypeError('notifications is not a permission name')) };
    const seen: string[] = [];
    await new BrowserNotifier(host, refusing).watch((p) => seen.push(p));
    await new BrowserNotifier(host, null).watch((p) => seen.push(p));
    await new BrowserNotifier(null, refusing).watch((p) => seen.push(p));
    expect(seen).toEqual(['granted', 'granted', 'unsupported']);
  });
});
