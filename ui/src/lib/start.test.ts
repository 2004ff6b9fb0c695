import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { api } from './api';
import { app, FIRST_READ_WAIT_MS } from './store.svelte';
import type { BoardTasks } from './bindings/BoardTasks';
import type { AppStatus } from './bindings/AppStatus';

const BOARD = { tasks: [], counts: [], more: [], events_through: 0 } as unknown as BoardTasks;

describe('the page at start-up', () => {
  let answer: (b: BoardTasks) => void;
  beforeEach(() => {
    vi.useFakeTimers();
    vi.stubGlobal('window', { addEventListener() {} });
    vi.stubGlobal('document', { visibilityState: 'visible', addEventListener() {} });
    vi.spyOn(api, 'subscribe').mockReturnValue({ close() {} });
    vi.spyOn(api, 'onNavigate').mockReturnValue({ close() {} });
    vi.spyOn(api, 'status').mockResolvedValue({} as AppStatus);
    vi.spyOn(api, 'getBoard').mockImplementation(() => new Promise<BoardTasks>((r) => (answer = r)));
    app.loaded = false;
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  const settled = (p: Promise<void>) => {
    let done = false;
    void p.then(() => (done = true));
    return () => done;
  };

  it('mounts the board with its first read, so it is built once with its cards', async () => {
    app.route = { page: 'board' };
    const ready = settled(app.start());
    await vi.advanceTimersByTimeAsync(FIRST_READ_WAIT_MS / 2);
    expect(ready()).toBe(false);
    answer(BOARD);
    await vi.advanceTimersByTimeAsync(0);
    expect(ready()).toBe(true);
    expect(app.loaded).toBe(true);
  });

  it('shows the board without its read when the read is slow', async () => {
    app.route = { page: 'board' };
    const ready = settled(app.start());
    await vi.advanceTimersByTimeAsync(FIRST_READ_WAIT_MS - 1);
    expect(ready()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(ready()).toBe(true);
    expect(app.loaded).toBe(false);
  });

  it('opens a link to a task without waiting for the board', async () => {
    app.route = { page: 'task', id: '0190c3a0-2222-7000-8000-000000000001' };
    const ready = settled(app.start());
    await vi.advanceTimersByTimeAsync(0);
    expect(ready()).toBe(true);
    expect(api.getBoard).toHaveBeenCalledTimes(1);
  });
});
