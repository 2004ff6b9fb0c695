// Saved views of the board: Needs Review, Errors, In Progress, Published, one per channel. A view
// is a test on a task's status and channel, so that it applies to the counts (per status and
// channel, from the server) as exactly as to the tasks loaded.
import type { Status } from './bindings/Status';
import type { StatusCount } from './bindings/StatusCount';
import type { Task } from './bindings/Task';
import { STATUS_INFO } from './status';

export interface View {
  id: string;
  label: string;
  /** The statuses it shows. */
  status: (s: Status) => boolean;
  /** Only this channel's tasks (null: every channel). */
  channel: string | null;
}

const any = () => true;

export const BASE_VIEWS: readonly View[] = [
  { id: 'all', label: 'All', status: any, channel: null },
  { id: 'review', label: 'Needs Review', status: (s) => STATUS_INFO[s].kind === 'gate', channel: null },
  { id: 'errors', label: 'Errors', status: (s) => STATUS_INFO[s].kind === 'error', channel: null },
  {
    id: 'progress',
    label: 'In Progress',
    status: (s) => {
      const k = STATUS_INFO[s].kind;
      return k === 'step' || k === 'pass_through' || k === 'decision' || s === 'queued';
    },
    channel: null,
  },
  { id: 'published', label: 'Published', status: (s) => s === 'published', channel: null },
];

export function inView(v: View, t: Pick<Task, 'status' | 'channel_id'>): boolean {
  return v.status(t.status) && (v.channel === null || t.channel_id === v.channel);
}

/** Every channel with a task (counted or loaded), sorted. */
export function channelsOf(counts: readonly StatusCount[], tasks: readonly Task[] = []): string[] {
  return [...new Set([...counts.map((c) => c.channel_id), ...tasks.map((t) => t.channel_id)])].sort();
}

export function channelViews(channels: readonly string[]): View[] {
  return channels.map((c) => ({ id: `channel:${c}`, label: `#${c}`, status: any, channel: c }));
}

export function allViews(channels: readonly string[]): View[] {
  return [...BASE_VIEWS, ...channelViews(channels)];
}

/** The view with this id (All when it is unknown, e.g. a channel that no longer has tasks). */
export function findView(channels: readonly string[], id: string): View {
  return allViews(channels).find((x) => x.id === id) ?? BASE_VIEWS[0];
}

export function applyView(tasks: readonly Task[], v: View): Task[] {
  return tasks.filter((t) => inView(v, t));
}

/** How many tasks a view holds (of `statuses` only, when given), from exact counts. */
export function viewCount(counts: readonly StatusCount[], v: View, statuses?: readonly Status[]): number {
  let n = 0;
  for (const c of counts) {
    if (inView(v, { status: c.status, channel_id: c.channel_id }) && (!statuses || statuses.includes(c.status))) n += c.n;
  }
  return n;
}

const PRIORITY_RANK = { high: 0, normal: 1, low: 2 } as const;

/**
 * The review queue: tasks waiting at a gate, high priority first, then the longest waiting.
 */
export function reviewQueue(tasks: readonly Task[]): Task[] {
  return tasks
    .filter((t) => STATUS_INFO[t.status].kind === 'gate')
    .sort(
      (a, b) =>
        PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] ||
        Date.parse(a.status_changed_at) - Date.parse(b.status_changed_at) ||
        a.id.localeCompare(b.id),
    );
}

/** The task after (or before, step -1) `current` in the queue; wraps around, skips `current`. */
export function neighbourInQueue(queue: readonly Task[], current: string | null, step: 1 | -1): Task | null {
  if (queue.length === 0) return null;
  const i = current ? queue.findIndex((t) => t.id === current) : -1;
  if (i === -1) return step === 1 ? queue[0] : queue[queue.length - 1];
  if (queue.length === 1) return null;
  return queue[(i + step + queue.length) % queue.length];
}

export const BULK_LIMIT = 100;
