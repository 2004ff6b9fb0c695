// Saved views of the board: Needs Review, Errors, In Progress, Published, one per channel.
import type { Task } from './bindings/Task';
import { STATUS_INFO } from './status';

export interface View {
  id: string;
  label: string;
  test: (t: Task) => boolean;
}

export const BASE_VIEWS: readonly View[] = [
  { id: 'all', label: 'All', test: () => true },
  { id: 'review', label: 'Needs Review', test: (t) => STATUS_INFO[t.status].kind === 'gate' },
  { id: 'errors', label: 'Errors', test: (t) => STATUS_INFO[t.status].kind === 'error' },
  {
    id: 'progress',
    label: 'In Progress',
    test: (t) => {
      const k = STATUS_INFO[t.status].kind;
      return k === 'step' || k === 'pass_through' || k === 'decision' || t.status === 'queued';
    },
  },
  { id: 'published', label: 'Published', test: (t) => t.status === 'published' },
];

export function channelViews(tasks: readonly Task[]): View[] {
  const channels = [...new Set(tasks.map((t) => t.channel_id))].sort();
  return channels.map((c) => ({ id: `channel:${c}`, label: `#${c}`, test: (t: Task) => t.channel_id === c }));
}

export function allViews(tasks: readonly Task[]): View[] {
  return [...BASE_VIEWS, ...channelViews(tasks)];
}

export function applyView(tasks: readonly Task[], viewId: string): Task[] {
  const v = allViews(tasks).find((x) => x.id === viewId) ?? BASE_VIEWS[0];
  return tasks.filter(v.test);
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
