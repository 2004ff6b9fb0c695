// The board of a desk with years of work. The server sends every unfinished task, the latest of
// each finished status and exact counts per status and channel (`get_board`); a finished column
// pages further back with "Show more" (`list_tasks` newest first, from a cursor). Counts follow
// the event stream here: a task moving between statuses moves one count, a task created adds one
// (finished tasks never move, so every task that can move is loaded).
import type { Status } from './bindings/Status';
import type { StatusCount } from './bindings/StatusCount';
import type { Task } from './bindings/Task';
import type { Column } from './status';
import { STATUS_INFO } from './status';
import { inView, type View } from './views';

/**
 * How many of each finished status the board loads at first, and per "Show more". The server
 * names the first read, with this number, for the browser to preload (`FIRST_READS` in
 * crates/server/src/files.rs); a browser test fails if the two differ.
 */
export const LATEST = 50;

/**
 * Cards per column in the board's first paint: a few more than a column of this height can show
 * (the bars above the columns and below them take about 100 px, a card is at least 72 px tall with
 * its gap: a one-line title, its meta and status lines; a 768 px window shows 8 and this gives 10),
 * the rest follow right after it: each card drawn and not in view delays the first paint.
 */
export function firstCards(viewportHeight: number): number {
  return Math.max(4, Math.ceil((viewportHeight - 100) / 72));
}

/** `counts` with `delta` added to one status of one channel (a new array; no row below zero). */
export function bumpCount(counts: readonly StatusCount[], status: Status, channel: string, delta: number): StatusCount[] {
  let found = false;
  const next = counts.map((c) => {
    if (c.status !== status || c.channel_id !== channel) return c;
    found = true;
    return { ...c, n: Math.max(0, c.n + delta) };
  });
  if (!found && delta > 0) next.push({ status, channel_id: channel, n: delta });
  return next;
}

/**
 * Where a finished column's loaded tasks stop, per channel (null: every channel), search text and
 * status. Absent for a channel: the board's own frontier for every channel holds (the latest of
 * every channel were loaded down to it).
 */
export type Frontiers = Record<string, string | null>;

export function frontierKey(channel: string | null, q: string, status: Status): string {
  return `${channel ?? '*'}|${q}|${status}`;
}

/** The cursor below which a column is not loaded for this view and search, or null: all loaded. */
export function frontierOf(f: Frontiers, channel: string | null, q: string, status: Status): string | null {
  const own = f[frontierKey(channel, q, status)];
  if (own !== undefined) return own;
  return f[frontierKey(null, q, status)] ?? null;
}

/** The frontiers of a board answer (`more` names the statuses with more; the others are whole). */
export function boardFrontiers(q: string, more: readonly { status: Status; before: string }[]): Frontiers {
  const f: Frontiers = {};
  for (const s of Object.keys(STATUS_INFO) as Status[]) {
    if (STATUS_INFO[s].kind === 'terminal') f[frontierKey(null, q, s)] = null;
  }
  for (const m of more) f[frontierKey(null, q, m.status)] = m.before;
  return f;
}

/** The cursor of the page after `t` (the server's `PageCursor`: `<epoch ms>_<id>`). */
export function cursorAfter(t: Task): string {
  return `${Date.parse(t.status_changed_at)}_${t.id}`;
}

/** Whether a task is at or after a cursor (`<epoch ms>_<id>`) in newest-first order. */
export function atOrAfter(t: Task, cursor: string): boolean {
  const cut = cursor.indexOf('_');
  const ms = Number(cursor.slice(0, cut));
  const id = cursor.slice(cut + 1);
  const at = Date.parse(t.status_changed_at);
  return at > ms || (at === ms && t.id >= id);
}

export function isFinished(s: Status): boolean {
  return STATUS_INFO[s].kind === 'terminal';
}

export interface BoardColumn extends Column {
  tasks: Task[];
  /** Exact number of tasks in this column for the view and search. */
  count: number;
  /** A finished column with more than shown: "Show more" continues from here. */
  more: string | null;
}

/** Newest first for finished columns; elsewhere the longest in its status first. */
function byTime(finished: boolean) {
  return (a: Task, b: Task) => {
    const d = Date.parse(a.status_changed_at) - Date.parse(b.status_changed_at) || a.id.localeCompare(b.id);
    return finished ? -d : d;
  };
}

/**
 * The columns as the board shows them: the loaded tasks in the view (and among the search's
 * matches), finished ones only down to their frontier so that a column never shows a gap, and the
 * exact count of each column.
 */
export function boardColumns(
  columns: readonly Column[],
  tasks: readonly Task[],
  view: View,
  counts: readonly StatusCount[],
  frontiers: Frontiers,
  q: string,
  matches: ReadonlySet<string> | null,
): BoardColumn[] {
  const visible = tasks.filter((t) => inView(view, t) && (!matches || matches.has(t.id)));
  return columns.map((c) => {
    const finished = c.statuses.every(isFinished);
    // A finished column holds one status.
    const more = finished ? frontierOf(frontiers, view.channel, q, c.statuses[0]) : null;
    const mine = visible
      .filter((t) => c.statuses.includes(t.status) && (!more || atOrAfter(t, more)))
      .sort(byTime(finished));
    let count = 0;
    for (const n of counts) {
      if (c.statuses.includes(n.status) && inView(view, { status: n.status, channel_id: n.channel_id })) count += n.n;
    }
    return { ...c, tasks: mine, count, more: more && mine.length < count ? more : null };
  });
}
