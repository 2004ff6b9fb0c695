import { describe, expect, it } from 'vitest';
import type { AuditRow } from './bindings/AuditRow';
import type { StatusSpan } from './bindings/StatusSpan';
import { decisionLines, reviewTimes, spanLines } from './history';

const T0 = Date.parse('2026-12-05T10:00:00Z');
const iso = (min: number) => new Date(T0 + min * 60_000).toISOString();
const span = (status: StatusSpan['status'], from: number, to: number | null, source = 'worker'): StatusSpan => ({
  status,
  entered_at: iso(from),
  left_at: to === null ? null : iso(to),
  source,
});

function audit(id: number, decision: string, gate: string, extra: Partial<AuditRow> = {}): AuditRow {
  return {
    id,
    task_id: 't',
    gate,
    decision,
    resulting_status: 'assets_approved',
    reviewer: { id: 'ana', name: 'Ana', email: null },
    source: 'browser',
    reason: null,
    flagged: [],
    correlation_id: 'c',
    created_at: iso(id * 10),
    ...extra,
  };
}

describe('history panel', () => {
  it('lists decisions newest first with gate, reviewer, door, reason and flags', () => {
    const lines = decisionLines(
      [
        audit(1, 'reject', 'assets_ready', { reason: 'hero too dark', flagged: ['hero_1'], source: 'desktop' }),
        audit(2, 'approve', 'assets_ready', { reason: '  ' }),
      ],
      'UTC',
    );
    expect(lines.map((l) => l.what)).toEqual(['Approved at Assets Ready', 'Rejected at Assets Ready']);
    expect(lines[1]).toMatchObject({ who: 'Ana (desktop)', reason: 'hero too dark', flagged: ['hero_1'] });
    expect(lines[0].reason).toBeNull();
    expect(lines[0].when).toBe('5 Dec 2026, 10:20');
  });

  it('shows the time in each status, the current one counted until now', () => {
    const lines = spanLines(
      [span('queued', 0, 1, 'cli'), span('generating_assets', 1, 4), span('assets_ready', 4, null)],
      T0 + 70 * 60_000,
      'UTC',
    );
    expect(lines.map((l) => [l.name, l.took, l.current, l.gate])).toEqual([
      ['Queued', '1m', false, false],
      ['Assets Generating', '3m', false, false],
      ['Assets Ready', '1h 06m', true, true],
    ]);
  });

  it('sums the review time of every visit to a gate', () => {
    const times = reviewTimes(
      [span('assets_ready', 0, 30), span('asset_error', 30, 31), span('generating_assets', 31, 35), span('assets_ready', 35, 50)],
      T0 + 99 * 60_000,
    );
    expect(times).toEqual([{ gate: 'Assets Ready', took: '45m', visits: 2 }]);
  });
});
