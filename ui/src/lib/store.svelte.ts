// Application state. Filled by one initial fetch and kept current by the event stream: an event
// names a task, and that task (only) is refetched. Nothing here polls the backend.
import type { AppStatus } from './bindings/AppStatus';
import type { AssetDetail } from './bindings/AssetDetail';
import type { DomainEvent } from './bindings/DomainEvent';
import type { Status } from './bindings/Status';
import type { StatusCount } from './bindings/StatusCount';
import type { Task } from './bindings/Task';
import type { TaskDetail } from './bindings/TaskDetail';
import { api, errorMessage, isNotFound, type Navigation, type StreamState } from './api';
import { reviewQueue } from './views';
import { boardFrontiers, bumpCount, cursorAfter, frontierKey, frontierOf, LATEST, type Frontiers } from './board';
import { stepProgress } from './status';
import { BrowserNotifier, type NotifyPermission } from './notify';
import { StreamCatchUp } from './catchup';
import { startCardClock } from './time';

/**
 * How many task details the window keeps (the most recently read; the open task's always): a window
 * that runs for weeks in the tray reads the detail of every task the worker moves, and would
 * otherwise keep them all. A detail dropped is read again when its task is opened.
 */
export const KEPT_DETAILS = 40;

/** `details` with `d` as `id`'s, the most recent, and at most `max` in all (`keep` is never dropped). */
export function withDetail(
  details: Record<string, TaskDetail>,
  id: string,
  d: TaskDetail,
  keep: string | null,
  max = KEPT_DETAILS,
): Record<string, TaskDetail> {
  const { [id]: _previous, ...rest } = details;
  const next: Record<string, TaskDetail> = { ...rest, [id]: d };
  let excess = Object.keys(next).length - max;
  // Keys keep their insertion order (task ids are not integer-like): the least recent come first.
  for (const k of Object.keys(next)) {
    if (excess <= 0) break;
    if (k === keep || k === id) continue;
    delete next[k];
    excess--;
  }
  return next;
}

/** Resolves when `work` has settled or `ms` have passed, whichever comes first. */
function atMost(work: Promise<unknown>, ms: number): Promise<void> {
  return Promise.race([work.then(() => {}), new Promise<void>((r) => setTimeout(r, ms))]);
}

/** How long the page waits for the board's first read before it shows the board without it. */
export const FIRST_READ_WAIT_MS = 150;

/** How long an open waits for the task's detail before showing its view with "Loading…". */
export const SHOW_WAIT_MS = 150;

/** URL of the picture a gallery tile shows: the small tile thumbnail when it exists. */
export function tileUrl(a: AssetDetail): string | null {
  const v = a.versions[a.versions.length - 1];
  const p = v?.tile_path ?? v?.thumb_path ?? (v ? v.file : null);
  return p ? api.fileUrl(p) : null;
}

/**
 * Starts loading and decoding every tile picture of a task, so that the gallery's images find them
 * ready: this runs while the gallery is still being built, instead of after it.
 */
export function loadTiles(d: TaskDetail): void {
  for (const a of d.assets) {
    const u = a.file_state === 'ok' ? tileUrl(a) : null;
    if (!u) continue;
    const img = new Image();
    img.decoding = 'async';
    img.src = u;
    img.decode().catch(() => {
      /* a broken picture: its tile says so when it renders */
    });
  }
}

/** Whether two answers for a task say the same (every field of a task is a plain value). */
export function sameTask(a: Task, b: Task): boolean {
  for (const k of Object.keys(b) as (keyof Task)[]) if (a[k] !== b[k]) return false;
  return Object.keys(a).length === Object.keys(b).length;
}

export type Route = { page: 'board' } | { page: 'task'; id: string };

export function parseHash(hash: string): Route {
  const m = /^#\/task\/([A-Za-z0-9_-]+)/.exec(hash);
  return m ? { page: 'task', id: m[1] } : { page: 'board' };
}

export interface Toast {
  id: number;
  text: string;
  tone: 'ok' | 'error';
}

class AppState {
  // Raw (not deeply proxied): a task is replaced whole, never changed in place, so a board of
  // hundreds of cards reads plain objects and redraws only the cards whose task was replaced.
  tasks = $state.raw<Record<string, Task>>({});
  /** How far a running step got, per task ("7/18"), from the worker's events; gone when the status changes. */
  progress = $state<Record<string, string>>({});
  loaded = $state(false);
  status = $state<AppStatus | null>(null);
  stream = $state<StreamState>('connecting');
  route = $state<Route>(parseHash(typeof location === 'undefined' ? '' : location.hash));
  /** Detail of the task open in the gallery (and prefetched ones). */
  // Raw (not deeply proxied): a detail is replaced whole, which keeps opening a gallery cheap.
  details = $state.raw<Record<string, TaskDetail>>({});
  now = $state(Date.now());
  help = $state(false);
  /** The settings dialog is open. */
  settings = $state(false);
  toasts = $state<Toast[]>([]);
  /** Browser notifications (only in a browser: the desktop app notifies natively). */
  notifyPermission = $state<NotifyPermission>('unsupported');
  loadError = $state<string | null>(null);
  /** Warm the next task (hover on a card, next in the queue). `?prefetch=0` turns it off (benchmark). */
  prefetch = typeof location === 'undefined' || new URLSearchParams(location.search).get('prefetch') !== '0';

  /** Exact task counts per status and channel (of the whole desk; the board loads only part of it). */
  counts = $state<StatusCount[]>([]);
  /** The title search of the board ('' for none), its matches and their counts. */
  search = $state('');
  matches = $state.raw<Set<string> | null>(null);
  searchCounts = $state<StatusCount[]>([]);
  /** How far each finished column is loaded (see board.ts). */
  frontiers = $state<Frontiers>({});

  taskList = $derived(Object.values(this.tasks));
  queue = $derived(reviewQueue(Object.values(this.tasks)));

  #pending = new Map<string, Promise<TaskDetail | null>>();
  #again = new Set<string>();
  /** Asset edits shown but not yet confirmed by the server, per task. */
  #editing = new Map<string, number>();
  /** Edits started per task: a detail requested before the latest one may not include it. */
  #editGen = new Map<string, number>();
  /** Tasks whose detail arrived while an edit was unconfirmed: fetched again once it settles. */
  #staleWhileEditing = new Set<string>();
  #warmed = new Set<string>();
  #statusTimer: ReturnType<typeof setTimeout> | null = null;
  #toastSeq = 0;
  #notifier = new BrowserNotifier();
  #catchUp = new StreamCatchUp();
  /** Tasks created since the board was read: counted once they are first seen. */
  #created = new Set<string>();
  #searchSeq = 0;
  /** The task `showTask` is waiting to open. */
  #opening: string | null = null;

  /**
   * Listens to the backend and reads the board. Resolves when the page may be mounted: on the
   * board, once that first read is in (or failed; at most FIRST_READ_WAIT_MS), so the board is
   * built and laid out once, with its cards, instead of empty and then again. The read starts
   * before the page's script runs (a preload in the browser; the desktop's command goes out at
   * once), so the wait is usually short. A link to a task does not wait for the board.
   */
  start(): Promise<void> {
    // The desktop benchmark splits page load → board painted at these marks.
    performance.mark('app-start');
    window.addEventListener('hashchange', () => (this.route = parseHash(location.hash)));
    startCardClock(document, (now) => (this.now = now));
    api.subscribe(
      (e) => this.onEvent(e),
      (s, from) => {
        const wasLive = this.stream === 'live';
        this.stream = s;
        if (s !== 'live') this.#catchUp.down();
        else if (!wasLive) {
          // Events may have been missed before the stream opened (or while it was down): fetch
          // what is shown again, unless the last read already reflects where the stream starts.
          if (this.#catchUp.live(from) || this.loadError) void this.reload();
          else this.refreshStatusSoon(); // worker and mirror states are not in the log
        }
      },
    );
    api.onNavigate((nav) => this.navigate(nav));
    if (api.kind === 'web') void this.#notifier.watch((p) => (this.notifyPermission = p));
    const firstRead = this.reload();
    if (this.route.page !== 'board') return Promise.resolve();
    return atMost(firstRead, FIRST_READ_WAIT_MS);
  }

  /** Show what a tray entry or a notification asks for, over whatever is open. */
  navigate(nav: Navigation): void {
    this.help = false;
    if (nav.kind === 'settings') {
      this.openSettings();
      return;
    }
    this.settings = false;
    performance.clearMarks('task-open');
    this.openTask(nav.id);
  }

  async reload(): Promise<void> {
    // Counted by the desktop test of start-up (one read, not one more when the stream opens).
    performance.mark('board-read');
    try {
      const [board, status] = await Promise.all([api.getBoard(null, LATEST), api.status()]);
      if (!this.loaded) performance.mark('board-data');
      if (this.#catchUp.read(board.events_through)) void this.reload();
      // Merged, not replaced: a task unchanged since the last load keeps its object, so its card
      // is not drawn again (the board is read again after a reconnect that may have missed events).
      const next: Record<string, Task> = {};
      for (const t of board.tasks) {
        const cur = this.tasks[t.id];
        next[t.id] = cur && sameTask(cur, t) ? cur : t;
      }
      this.tasks = next;
      this.counts = board.counts;
      this.frontiers = boardFrontiers('', board.more);
      this.#created.clear();
      this.status = status;
      this.loaded = true;
      this.loadError = null;
      if (this.search) void this.runSearch(this.search);
      if (this.route.page === 'task') void this.fetchDetail(this.route.id, true);
    } catch (e) {
      this.loadError = errorMessage(e);
    }
  }

  /** Finds tasks by title on the whole desk (the board then shows only those). */
  async runSearch(text: string): Promise<void> {
    const q = text.trim();
    const seq = ++this.#searchSeq;
    this.search = q;
    if (!q) {
      this.matches = null;
      this.searchCounts = [];
      return;
    }
    try {
      const found = await api.getBoard(q, LATEST);
      if (seq !== this.#searchSeq) return; // a later search overtook this one
      this.#merge(found.tasks);
      this.matches = new Set(found.tasks.map((t) => t.id));
      this.searchCounts = found.counts;
      this.frontiers = { ...this.frontiers, ...boardFrontiers(q, found.more) };
    } catch (e) {
      if (seq === this.#searchSeq) this.toast(`Search failed: ${errorMessage(e)}`, 'error');
    }
  }

  /** The next page of a finished column, for a channel (null: all) and the current search. */
  async showMore(status: Status, channel: string | null): Promise<void> {
    const q = this.search;
    const before = frontierOf(this.frontiers, channel, q, status);
    if (!before) return;
    const page = await api.listMore(status, channel, q, before, LATEST * 2);
    this.#merge(page);
    if (this.matches && q) this.matches = new Set([...this.matches, ...page.map((t) => t.id)]);
    const last = page[page.length - 1];
    this.frontiers = {
      ...this.frontiers,
      [frontierKey(channel, q, status)]: page.length === LATEST * 2 && last ? cursorAfter(last) : null,
    };
  }

  /** Tasks read from the desk that are already counted (pages, search results). */
  #merge(list: readonly Task[]): void {
    const fresh: Record<string, Task> = {};
    for (const t of list) {
      if (!this.tasks[t.id]) fresh[t.id] = t;
      else this.putTask(t);
    }
    this.tasks = { ...this.tasks, ...fresh };
  }

  /**
   * Keeps a task as now known, moving its count when its status changed (a task created since the
   * board was read is counted when first seen).
   */
  putTask(t: Task): void {
    const prev = this.tasks[t.id];
    if (prev && prev.status !== t.status) {
      this.counts = bumpCount(bumpCount(this.counts, prev.status, t.channel_id, -1), t.status, t.channel_id, 1);
      if (this.matches?.has(t.id)) {
        this.searchCounts = bumpCount(bumpCount(this.searchCounts, prev.status, t.channel_id, -1), t.status, t.channel_id, 1);
      }
    } else if (!prev && this.#created.delete(t.id)) {
      this.counts = bumpCount(this.counts, t.status, t.channel_id, 1);
    }
    // An unchanged task keeps its object: the board (built, even while hidden behind a gallery)
    // and the queue are then not derived again for nothing, as on every gallery open.
    if (!prev || (prev !== t && !sameTask(prev, t))) this.tasks = { ...this.tasks, [t.id]: t };
  }

  /** A task this window created: on the board and counted at once. */
  taskCreated(t: Task): void {
    this.#created.add(t.id);
    this.applyTask(t);
  }

  onEvent(e: DomainEvent): void {
    switch (e.type) {
      case 'worker':
        if (this.status) this.status.worker = e.state;
        if (e.state.state === 'working') {
          const p = stepProgress(e.state.doing);
          if (p) this.progress[e.state.task_id] = p;
        }
        this.refreshStatusSoon();
        return;
      case 'mirror':
        if (this.status) this.status.mirror = e.state;
        return;
      case 'status_changed': {
        delete this.progress[e.task_id];
        const t = this.tasks[e.task_id];
        if (t) this.putTask({ ...t, status: e.to, status_changed_at: new Date().toISOString() });
        this.refetchTask(e.task_id);
        this.refreshStatusSoon();
        return;
      }
      case 'review_ready':
        if (api.kind === 'web') {
          this.#notifier.reviewReady(e, (id) => {
            window.focus();
            this.navigate({ kind: 'task', id });
          });
        }
        this.refetchTask(e.task_id);
        this.refreshStatusSoon();
        return;
      case 'task_created':
        if (!this.tasks[e.task_id]) this.#created.add(e.task_id);
        this.refetchTask(e.task_id);
        this.refreshStatusSoon();
        return;
      case 'decision_made':
        this.refetchTask(e.task_id);
        this.refreshStatusSoon();
        return;
      case 'asset_changed':
      case 'asset_version_added':
      case 'task_updated':
        this.refetchTask(e.task_id);
        return;
    }
  }

  /** Refetch one task (coalesced: several events in a row cause one request). */
  refetchTask(id: string): void {
    void this.fetchDetail(id, true);
  }

  async fetchDetail(id: string, force = false): Promise<TaskDetail | null> {
    if (!force && this.details[id]) return this.details[id];
    const inflight = this.#pending.get(id);
    if (inflight) {
      // A request already left: it may predate this event, so ask again once it is back.
      if (force) this.#again.add(id);
      return inflight;
    }
    const p = (async () => {
      // Let a burst of events for the same task settle into one request.
      if (force) await new Promise((r) => setTimeout(r, 30));
      try {
        const gen = this.#editGen.get(id) ?? 0;
        const d = await api.getTask(id);
        if (this.#editing.get(id) || (this.#editGen.get(id) ?? 0) !== gen) {
          // This answer may predate an edit (answers can overtake one another on separate
          // connections; a flag just set would blink off): keep what is shown and ask again, once
          // the edit is confirmed.
          if (this.#editing.get(id)) this.#staleWhileEditing.add(id);
          else this.#again.add(id);
          return this.details[id] ?? d;
        }
        // First load (opening, warming): the pictures start before the gallery is built.
        if (!force && typeof Image !== 'undefined') loadTiles(d);
        this.putTask(d.task);
        this.details = withDetail(this.details, id, d, this.route.page === 'task' ? this.route.id : null);
        return d;
      } catch (e) {
        if (isNotFound(e)) {
          const gone = this.tasks[id];
          if (gone) this.counts = bumpCount(this.counts, gone.status, gone.channel_id, -1);
          const { [id]: _removed, ...left } = this.tasks;
          this.tasks = left;
          const { [id]: _gone, ...rest } = this.details;
          this.details = rest;
        }
        return null;
      } finally {
        this.#pending.delete(id);
        if (this.#again.delete(id)) void this.fetchDetail(id, true);
      }
    })();
    this.#pending.set(id, p);
    return p;
  }

  /**
   * Warm the first tasks of the review queue while the creator is on the board: their detail and
   * thumbnails are fetched once, when idle, so that opening one only has to decode and paint.
   */
  warmQueue(limit = 5): void {
    if (!this.prefetch) return;
    const idle = (cb: () => void) =>
      'requestIdleCallback' in window ? requestIdleCallback(cb, { timeout: 500 }) : setTimeout(cb, 50);
    for (const t of this.queue.slice(0, limit)) {
      if (this.details[t.id] || this.#warmed.has(t.id)) continue;
      this.#warmed.add(t.id);
      idle(() => this.warm(t.id));
    }
  }

  /** Fetches a task's detail if needed and loads its tile pictures (prefetching). */
  warm(id: string): void {
    const cached = this.details[id];
    if (cached) loadTiles(cached);
    else void this.fetchDetail(id); // loads the tiles once the detail is in
  }

  refreshStatusSoon(): void {
    if (this.#statusTimer) return;
    this.#statusTimer = setTimeout(async () => {
      this.#statusTimer = null;
      try {
        this.status = await api.status();
      } catch {
        /* keep the last known state */
      }
    }, 150);
  }

  /** Apply a task returned by a command at once (the event that follows only confirms it). */
  applyTask(t: Task): void {
    this.putTask(t);
    const d = this.details[t.id];
    if (d) this.details = { ...this.details, [t.id]: { ...d, task: t } };
  }

  /**
   * Shows an asset edit at once and sends it; the edit is undone if the server refuses it (the
   * error is rethrown). Details that arrive meanwhile do not overwrite it.
   */
  async editAsset(taskId: string, name: string, patch: Partial<AssetDetail>, send: () => Promise<unknown>): Promise<void> {
    const before = this.details[taskId]?.assets.find((a) => a.name === name);
    this.#editing.set(taskId, (this.#editing.get(taskId) ?? 0) + 1);
    this.#editGen.set(taskId, (this.#editGen.get(taskId) ?? 0) + 1);
    this.patchAsset(taskId, name, patch);
    try {
      await send();
    } catch (e) {
      if (before) this.patchAsset(taskId, name, before); // the asset as it was shown before the edit
      throw e;
    } finally {
      const left = (this.#editing.get(taskId) ?? 1) - 1;
      if (left > 0) this.#editing.set(taskId, left);
      else {
        this.#editing.delete(taskId);
        if (this.#staleWhileEditing.delete(taskId)) void this.fetchDetail(taskId, true);
      }
    }
  }

  /** Change one asset of a loaded detail (flags), replacing the detail. */
  patchAsset(taskId: string, name: string, patch: Partial<AssetDetail>): void {
    const d = this.details[taskId];
    if (!d) return;
    const assets = d.assets.map((a) => (a.name === name ? { ...a, ...patch } : a));
    this.details = { ...this.details, [taskId]: { ...d, assets } };
  }

  toast(text: string, tone: 'ok' | 'error' = 'ok', ms = 5000): void {
    const id = ++this.#toastSeq;
    this.toasts = [...this.toasts, { id, text, tone }];
    setTimeout(() => (this.toasts = this.toasts.filter((t) => t.id !== id)), ms);
  }

  openTask(id: string): void {
    this.#opening = null;
    location.hash = `#/task/${id}`;
    this.route = { page: 'task', id };
  }

  /**
   * Opens a task once its detail is in (at most SHOW_WAIT_MS, then its view shows "Loading…"):
   * the view is built once, whole, instead of empty and then again, and the main thread is free to
   * take the answer (and start its pictures) instead of building a view that must wait for it.
   * A later open, or a move to the board, meanwhile wins.
   */
  async showTask(id: string): Promise<void> {
    this.#opening = id;
    if (!this.details[id]) {
      await atMost(this.fetchDetail(id), SHOW_WAIT_MS);
    }
    if (this.#opening === id) this.openTask(id);
  }

  /** Asks the browser for notifications (from a click: browsers prompt only then). */
  async enableNotifications(): Promise<void> {
    this.notifyPermission = await this.#notifier.request();
    if (this.notifyPermission === 'denied') {
      this.toast('Notifications are blocked for this page: allow them in the browser’s site settings.', 'error');
    }
  }

  openSettings(): void {
    this.help = false;
    this.settings = true;
  }

  openBoard(): void {
    this.#opening = null;
    location.hash = '#/';
    this.route = { page: 'board' };
  }
}

export const app = new AppState();
