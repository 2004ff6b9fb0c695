// The task page's History panel: the review record (every decision with reviewer, source, time,
// reason and flags) and each status the task has been in, with the time spent there.
import type { AuditRow } from './bindings/AuditRow';
import type { Status } from './bindings/Status';
import type { StatusSpan } from './bindings/StatusSpan';
import { isGate, statusName } from './status';
import { formatDuration } from './time';

/** A decision as a line of the panel. */
export interface DecisionLine {
  when: string;
  what: string;
  who: string;
  reason: string | null;
  flagged: string[];
}

const DECIDED: Record<string, string> = {
  approve: 'Approved',
  reject: 'Rejected',
  cancel: 'Cancelled',
  retry: 'Retried',
};

/** "5 Dec 2026, 14:03" in the viewer's time zone (or `tz`). */
export function formatWhen(iso: string, tz?: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat('en-GB', {
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hour12: false,
    ...(tz ? { timeZone: tz } : {}),
  }).format(d);
}

/** The decisions, newest first: "Approved at Assets Ready", by whom and through which door. */
export function decisionLines(audit: readonly AuditRow[], tz?: string): DecisionLine[] {
  return [...audit]
    .sort((a, b) => b.id - a.id)
    .map((r) => {
      const gate = r.gate as Status;
      const verb = DECIDED[r.decision] ?? r.decision;
      const name = r.reviewer.name || r.reviewer.id || 'the local user';
      return {
        when: formatWhen(r.created_at, tz),
        what: `${verb} at ${statusName(gate)}`,
        who: `${name} (${r.source})`,
        reason: r.reason && r.reason.trim() !== '' ? r.reason : null,
        flagged: r.flagged,
      };
    });
}

/** A stay in a status as a line of the timeline. */
export interface SpanLine {
  status: Status;
  name: string;
  when: string;
  took: string;
  current: boolean;
  gate: boolean;
}

function spanMs(s: StatusSpan, now: number): number {
  const end = s.left_at ? Date.parse(s.left_at) : now;
  return Math.max(0, end - Date.parse(s.entered_at));
}

/** The timeline, oldest first, with the time spent in each status (until now for the current one). */
export function spanLines(history: readonly StatusSpan[], now: number, tz?: string): SpanLine[] {
  return history.map((s) => ({
    status: s.status,
    name: statusName(s.status),
    when: formatWhen(s.entered_at, tz),
    took: formatDuration(spanMs(s, now)),
    current: s.left_at === null,
    gate: isGate(s.status),
  }));
}

/** Time waiting for review at each gate, summed over every visit, in pipeline order of first visit. */
export function reviewTimes(history: readonly StatusSpan[], now: number): { gate: string; took: string; visits: number }[] {
  const byGate = new Map<Status, { ms: number; visits: number }>();
  for (const s of history) {
    if (!isGate(s.status)) continue;
    const t = byGate.get(s.status) ?? { ms: 0, visits: 0 };
    t.ms += spanMs(s, now);
    t.visits += 1;
    byGate.set(s.status, t);
  }
  return [...byGate].map(([gate, t]) => ({ gate: statusName(gate), took: formatDuration(t.ms), visits: t.visits }));
}
