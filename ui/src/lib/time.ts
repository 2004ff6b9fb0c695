// Time formatting for cards: "time in current status", "next at hh:mm".

/** A duration as the board shows it: "just now", "12m", "3h 05m", "2d 4h". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 60_000) return ms < 0 ? '0m' : '<1m';
  const totalMin = Math.floor(ms / 60_000);
  if (totalMin < 60) return `${totalMin}m`;
  const totalH = Math.floor(totalMin / 60);
  const m = totalMin % 60;
  if (totalH < 24) return `${totalH}h ${String(m).padStart(2, '0')}m`;
  const d = Math.floor(totalH / 24);
  const h = totalH % 24;
  return `${d}d ${h}h`;
}

/** Time since an RFC 3339 instant, formatted. */
export function timeSince(iso: string, now: number): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  return formatDuration(now - t);
}

/** Local wall-clock "hh:mm" of an RFC 3339 instant. */
export function formatClock(iso: string, tz?: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return new Intl.DateTimeFormat('en-GB', {
    hour: '2-digit',
    minute: '2-digit',
    hour12: false,
    ...(tz ? { timeZone: tz } : {}),
  }).format(d);
}

/** The bits of `document` the card clock needs (a stand-in in tests). */
export interface PageVisibility {
  readonly visibilityState: DocumentVisibilityState;
  addEventListener(type: 'visibilitychange', listener: () => void): void;
}

/**
 * The clock of the cards' "time in status": `set(now)` every minute, not while the page is hidden
 * (a redraw of every card for nobody), and at once when it is shown again.
 */
export function startCardClock(page: PageVisibility, set: (now: number) => void, everyMs = 60_000): () => void {
  const tick = () => {
    if (page.visibilityState !== 'hidden') set(Date.now());
  };
  const timer = setInterval(tick, everyMs);
  page.addEventListener('visibilitychange', tick);
  return () => clearInterval(timer);
}
