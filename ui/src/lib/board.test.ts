import { describe, expect, it } from 'vitest';
import type { Status } from './bindings/Status';
import type { Task } from './bindings/Task';
import { atOrAfter, boardColumns, boardFrontiers, bumpCount, cursorAfter, frontierKey, frontierOf } from './board';
import { COLUMNS } from './status';
import { findView } from './views';

let n = 0;
function task(status: Status, at: number, over: Partial<Task> = {}): Task {
  n++;
  return {
    id: `00000000-0000-7000-8000-${String(n).padStart(12, '0')}`, channel_id: 'main', title: `T${n}`, topic: '',
    story_direction: '', priority: 'normal', status, status_changed_at: new Date(at).toISOString(),
    created_at: new Date(at).toISOString(), updated_at: new Date(at).toISOString(), notion_page_id: null,
    review_started_at: null, review_completed_at: null, error_log: '', attempts: 0, next_retry_at: null,
    error_category: null, correlation_id: 'c', plan_file: null, spent_usd: 0, ...over,
  };
}
const cursor = cursorAfter;
const col = (cols: ReturnType<typeof boardColumns>, id: string) => cols.find((c) => c.id === id)!;

describe('board counts', () => {
  it('moves one count when a task changes status, and never goes below zero', () => {
    let c = bumpCount([{ status: 'assets_ready', channel_id: 'main', n: 1 }], 'assets_ready', 'main', -1);
    c = bumpCount(c, 'assets_approved', 'main', 1);
    expect(c).toEqual([
      { status: 'assets_ready', channel_id: 'main', n: 0 },
      { status: 'assets_approved', channel_id: 'main', n: 1 },
    ]);
    expect(bumpCount(c, 'assets_ready', 'main', -1)[0].n).toBe(0);
  });
});

describe('board columns', () => {
  // The latest 2 published of 5,000 are loaded, the newest waiting task too.
  const waiting = task('assets_ready', 9_000);
  const p1 = task('published', 8_000);
  const p2 = task('published', 7_000, { channel_id: 'kids' });
  const olderKids = task('published', 1_000, { channel_id: 'kids' }); // loaded by the kids view's "Show more"
  const counts = [
    { status: 'assets_ready' as const, channel_id: 'main', n: 1 },
    { status: 'published' as const, channel_id: 'main', n: 3000 },
    { status: 'published' as const, channel_id: 'kids', n: 1999 },
  ];
  const frontiers = boardFrontiers('', [{ status: 'published', before: cursor(p2) }]);

  it('shows every waiting task, exact counts and "show more" on the finished column', () => {
    const cols = boardColumns(COLUMNS, [waiting, p1, p2], findView(['kids', 'main'], 'all'), counts, frontiers, '', null);
    expect(col(cols, 'assets_ready').tasks).toEqual([waiting]);
    expect(col(cols, 'published').tasks.map((t) => t.id)).toEqual([p1.id, p2.id]); // newest first
    expect(col(cols, 'published').count).toBe(4999);
    expect(col(cols, 'published').more).toBe(cursor(p2));
    expect(col(cols, 'cancelled').more).toBeNull();
  });

  it('never shows a gap: a page loaded for one channel stays out of the other views until they reach it', () => {
    const f = { ...frontiers, [frontierKey('kids', '', 'published')]: cursor(olderKids) };
    const all = boardColumns(COLUMNS, [p1, p2, olderKids], findView(['kids', 'main'], 'all'), counts, f, '', null);
    expect(col(all, 'published').tasks).toEqual([p1, p2]);
    const kids = boardColumns(COLUMNS, [p1, p2, olderKids], findView(['kids', 'main'], 'channel:kids'), counts, f, '', null);
    expect(col(kids, 'published').tasks).toEqual([p2, olderKids]);
    expect(col(kids, 'published').count).toBe(1999);
  });

  it('a search shows only its matches, with its own counts', () => {
    const cols = boardColumns(
      COLUMNS,
      [waiting, p1, p2],
      findView([], 'all'),
      [{ status: 'published', channel_id: 'main', n: 1 }],
      boardFrontiers('t2', []),
      't2',
      new Set([p1.id]),
    );
    expect(cols.flatMap((c) => c.tasks)).toEqual([p1]);
    expect(col(cols, 'published').count).toBe(1);
    expect(col(cols, 'published').more).toBeNull();
  });

  it('reads cursors in newest-first order, ties broken by id', () => {
    expect(atOrAfter(p1, cursor(p2))).toBe(true);
    expect(atOrAfter(olderKids, cursor(p2))).toBe(false);
    expect(atOrAfter(p2, cursor(p2))).toBe(true);
    const sameMs = task('published', 7_000);
    expect(atOrAfter(sameMs, cursor(p2))).toBe(true); // larger id, same millisecond: newer
    expect(frontierOf({}, 'kids', '', 'published')).toBeNull();
  });
});
