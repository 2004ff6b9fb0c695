import { describe, expect, it } from 'vitest';
import type { Status } from './bindings/Status';
import type { Task } from './bindings/Task';
import { allViews, applyView, channelsOf, findView, neighbourInQueue, reviewQueue, viewCount } from './views';

let n = 0;
function task(status: Status, over: Partial<Task> = {}): Task {
  n++;
  return {
    id: `t${n}`, channel_id: 'main', title: `T${n}`, topic: '', story_direction: '', priority: 'normal', status,
    status_changed_at: `2025-01-01T10:${String(n).padStart(2, '0')}:00Z`, created_at: '2025-01-01T09:00:00Z',
    updated_at: '2025-01-01T10:00:00Z', notion_page_id: null, review_started_at: null, review_completed_at: null,
    error_log: '', attempts: 0, next_retry_at: null, error_category: null, correlation_id: 'c', plan_file: null, spent_usd: 0,
    ...over,
  };
}

const tasks = [
  task('assets_ready'),
  task('final_review', { channel_id: 'kids' }),
  task('asset_error'),
  task('generating_video', { channel_id: 'kids' }),
  task('queued'),
  task('published'),
  task('draft'),
  task('cancelled'),
];
const ids = (ts: Task[]) => ts.map((t) => t.status);

const chans = channelsOf([], tasks);
const show = (ts: Task[], id: string) => applyView(ts, findView(chans, id));

describe('saved views', () => {
  it('Needs Review shows the gates', () => {
    expect(ids(show(tasks, 'review'))).toEqual(['assets_ready', 'final_review']);
  });
  it('Errors shows the errors', () => {
    expect(ids(show(tasks, 'errors'))).toEqual(['asset_error']);
  });
  it('In Progress shows work the machine is doing or about to do', () => {
    expect(ids(show(tasks, 'progress'))).toEqual(['generating_video', 'queued']);
  });
  it('Published shows finished videos', () => {
    expect(ids(show(tasks, 'published'))).toEqual(['published']);
  });
  it('has one view per channel, from the counts as well as the tasks loaded', () => {
    const views = allViews(channelsOf([{ status: 'published', channel_id: 'archive', n: 3 }], tasks)).map((v) => v.id);
    expect(views).toEqual(['all', 'review', 'errors', 'progress', 'published', 'channel:archive', 'channel:kids', 'channel:main']);
    expect(ids(show(tasks, 'channel:kids'))).toEqual(['final_review', 'generating_video']);
  });
  it('falls back to all for an unknown view', () => {
    expect(show(tasks, 'nope')).toHaveLength(tasks.length);
  });
  it('counts a view from exact counts, not from the tasks loaded', () => {
    const counts = [
      { status: 'published' as const, channel_id: 'main', n: 4000 },
      { status: 'published' as const, channel_id: 'kids', n: 900 },
      { status: 'assets_ready' as const, channel_id: 'kids', n: 2 },
      { status: 'cancelled' as const, channel_id: 'main', n: 99 },
    ];
    expect(viewCount(counts, findView(chans, 'all'))).toBe(5001);
    expect(viewCount(counts, findView(chans, 'published'))).toBe(4900);
    expect(viewCount(counts, findView(chans, 'review'))).toBe(2);
    expect(viewCount(counts, findView(chans, 'channel:kids'))).toBe(902);
    expect(viewCount(counts, findView(chans, 'channel:main'), ['cancelled'])).toBe(99);
  });
});

describe('review queue', () => {
  const a = task('assets_ready', { priority: 'low', status_changed_at: '2025-01-01T08:00:00Z' });
  const b = task('video_ready', { status_changed_at: '2025-01-01T09:00:00Z' });
  const c = task('assets_ready', { priority: 'high', status_changed_at: '2025-01-01T11:00:00Z' });
  const d = task('audio_ready', { status_changed_at: '2025-01-01T08:30:00Z' });
  const q = reviewQueue([a, b, task('queued'), c, d]);
  it('orders high priority first, then the longest waiting', () => {
    expect(q.map((t) => t.id)).toEqual([c.id, d.id, b.id, a.id]);
  });
  it('J/K step through it and wrap', () => {
    expect(neighbourInQueue(q, c.id, 1)?.id).toBe(d.id);
    expect(neighbourInQueue(q, c.id, -1)?.id).toBe(a.id);
    expect(neighbourInQueue(q, null, 1)?.id).toBe(c.id);
    expect(neighbourInQueue([c], c.id, 1)).toBeNull();
    expect(neighbourInQueue([], null, 1)).toBeNull();
  });
});
