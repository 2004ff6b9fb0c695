import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { api } from './api';
import { app, KEPT_DETAILS, SHOW_WAIT_MS, withDetail } from './store.svelte';
import type { TaskDetail } from './bindings/TaskDetail';

const ID = '0190c3a0-2222-7000-8000-000000000001';
const OTHER = '0190c3a0-2222-7000-8000-000000000002';

function detailOf(id: string): TaskDetail {
  return { task: { id, status: 'assets_ready', channel_id: 'default' }, assets: [] } as unknown as TaskDetail;
}

describe('opening a task from the board', () => {
  let answer: (d: TaskDetail) => void;
  beforeEach(() => {
    vi.useFakeTimers();
    vi.stubGlobal('location', { hash: '', search: '' });
    app.route = { page: 'board' };
    app.details = {};
    vi.spyOn(api, 'getTask').mockImplementation(() => new Promise<TaskDetail>((r) => (answer = r)));
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('shows the view once the detail is in, so it is built whole', async () => {
    const shown = app.showTask(ID);
    await vi.advanceTimersByTimeAsync(SHOW_WAIT_MS / 2);
    expect(app.route).toEqual({ page: 'board' });
    answer(detailOf(ID));
    await shown;
    expect(app.route).toEqual({ page: 'task', id: ID });
    expect(app.details[ID]?.task.id).toBe(ID);
  });

  it('shows the view without the detail when it is slow to come', async () => {
    const shown = app.showTask(ID);
    await vi.advanceTimersByTimeAsync(SHOW_WAIT_MS);
    await shown;
    expect(app.route).toEqual({ page: 'task', id: ID });
  });

  it('opens at once a task whose detail is already in', async () => {
    app.details = { [ID]: detailOf(ID) };
    await app.showTask(ID);
    expect(api.getTask).not.toHaveBeenCalled();
    expect(app.route).toEqual({ page: 'task', id: ID });
  });

  it('lets a later open or a move to the board win', async () => {
    const first = app.showTask(ID);
    app.details = { ...app.details, [OTHER]: detailOf(OTHER) };
    await app.showTask(OTHER);
    answer(detailOf(ID));
    await first;
    expect(app.route).toEqual({ page: 'task', id: OTHER });

    const again = app.showTask(ID);
    app.openBoard();
    await vi.advanceTimersByTimeAsync(SHOW_WAIT_MS);
    await again;
    expect(app.route).toEqual({ page: 'board' });
  });
});

describe('a task read again', () => {
  it('keeps its object when nothing changed, so nothing derived from the board is computed again', () => {
    const t = detailOf(ID).task;
    app.tasks = { [ID]: t };
    const before = app.tasks;
    app.putTask({ ...t });
    expect(app.tasks).toBe(before);
    app.putTask({ ...t, title: 'Renamed' });
    expect(app.tasks).not.toBe(before);
    expect(app.tasks[ID].title).toBe('Renamed');
  });
});

describe('the details a long-running window keeps', () => {
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `0190c3a0-3333-7000-8000-${String(i).padStart(12, '0')}`);

  it('are the most recently read ones, and never drop the open task', () => {
    const [open, ...others] = ids(60);
    let details = withDetail({}, open, detailOf(open), open);
    for (const id of others) details = withDetail(details, id, detailOf(id), open);
    expect(Object.keys(details)).toHaveLength(KEPT_DETAILS);
    expect(details[open]).toBeDefined();
    // The newest ones are kept, the oldest (after the open task) were dropped.
    expect(details[others.at(-1)!]).toBeDefined();
    expect(details[others[0]]).toBeUndefined();
  });

  it('count a detail read again as recent', () => {
    const all = ids(KEPT_DETAILS);
    let details: Record<string, TaskDetail> = {};
    for (const id of all) details = withDetail(details, id, detailOf(id), null);
    details = withDetail(details, all[0], detailOf(all[0]), null);
    const extra = ids(KEPT_DETAILS + 1).at(-1)!;
    details = withDetail(details, extra, detailOf(extra), null);
    expect(details[all[0]]).toBeDefined();
    expect(details[all[1]]).toBeUndefined();
    expect(Object.keys(details)).toHaveLength(KEPT_DETAILS);
  });
});
