// The browser's stand-in for the desktop's "assets ready" notification (README, "Notify me": without
// the desktop app, the browser's notification API stands in). The desktop app notifies natively from Rust; this
// module is used only when the UI runs in a browser on `reviewdesk serve`.

/** What the notification says under the headline (which comes with the event, built in core). */
export const REVIEW_READY_BODY = 'Click to open it: A approves, F flags, R rejects with feedback.';

/** Where the browser stands on notifications for this page. */
export type NotifyPermission = 'unsupported' | 'default' | 'granted' | 'denied';

/** The part of the browser's `Notification` this module uses (a test passes its own). */
export interface NotificationHost {
  readonly permission: NotificationPermission;
  requestPermission(): Promise<NotificationPermission>;
  new (title: string, options?: NotificationOptions): Notification;
}

/** The page's `Notification`, or null where the browser has none (or it is not a secure context). */
export function browserNotifications(): NotificationHost | null {
  return typeof window !== 'undefined' && 'Notification' in window ? (window.Notification as NotificationHost) : null;
}

/** The part of the browser's Permissions API this module uses (a test passes its own). */
export interface PermissionsHost {
  query(d: { name: 'notifications' }): Promise<{ state: PermissionState; onchange: (() => void) | null }>;
}

function browserPermissions(): PermissionsHost | null {
  return typeof navigator !== 'undefined' && navigator.permissions ? (navigator.permissions as PermissionsHost) : null;
}

/** Sends review notifications through the browser, once the creator has allowed them. */
export class BrowserNotifier {
  constructor(
    private readonly host: NotificationHost | null = browserNotifications(),
    private readonly permissions: PermissionsHost | null = browserPermissions(),
  ) {}

  /**
   * Read at once. In Chromium this getter waits for the browser process (a synchronous call),
   * which is busy while a page loads: ~15 ms of the page's start-up were spent here. The page
   * reads the permission with `watch` instead and keeps this for the rare moments that need it now.
   */
  get permission(): NotifyPermission {
    return this.host ? this.host.permission : 'unsupported';
  }

  /**
   * Tells `onState` where the page stands, without blocking it (the Permissions API answers
   * asynchronously), and again whenever the creator changes it in the browser's site settings.
   */
  async watch(onState: (p: NotifyPermission) => void): Promise<void> {
    if (!this.host) return onState('unsupported');
    // Without the Permissions API (or its notifications entry): the synchronous read, once.
    const status = await this.permissions?.query({ name: 'notifications' }).catch(() => null);
    if (!status) return onState(this.permission);
    const read = () => onState(status.state === 'prompt' ? 'default' : status.state);
    status.onchange = read;
    read();
  }

  /** Asks the browser (which only shows its prompt from a click). */
  async request(): Promise<NotifyPermission> {
    if (!this.host) return 'unsupported';
    try {
      return await this.host.requestPermission();
    } catch {
      return this.permission;
    }
  }

  /**
   * Notifies that a task waits for review; a click on the notification calls `onOpen`. One
   * notification per task (tagged by id), so several open tabs or a repeated event replace it
   * instead of stacking. Returns whether one was shown.
   */
  reviewReady(e: { task_id: string; headline: string }, onOpen: (taskId: string) => void): boolean {
    if (!this.host || this.host.permission !== 'granted') return false;
    try {
      const n = new this.host(e.headline, { body: REVIEW_READY_BODY, tag: `review-${e.task_id}` });
      n.onclick = () => {
        n.close();
        onOpen(e.task_id);
      };
      return true;
    } catch {
      // Some browsers allow notifications only from a service worker: the board still shows it.
      return false;
    }
  }
}
