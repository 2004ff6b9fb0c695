import { describe, expect, it, vi } from 'vitest';
import { formatClock, formatDuration, startCardClock, timeSince } from './time';

const MIN = 60_000;

describe('time in status', () => {
  it('formats durations', () => {
    expect(formatDuration(10_000)).toBe('<1m');
    expect(formatDuration(MIN)).toBe('1m');
    expect(formatDuration(59 * MIN + 59_000)).toBe('59m');
    expect(formatDuration(60 * MIN)).toBe('1h 00m');
    expect(formatDuration(125 * MIN)).toBe('2h 05m');
    expect(formatDuration(24 * 60 * MIN)).toBe('1d 0h');
    expect(formatDuration((2 * 24 + 4) * 60 * MIN + 5 * MIN)).toBe('2d 4h');
    expect(formatDuration(-5 * MIN)).toBe('0m');
  });
  it('measures from an RFC 3339 instant', () => {
    const now = Date.parse('2025-01-01T12:00:00Z');
    expect(timeSince('2025-01-01T11:17:30Z', now)).toBe('42m');
    expect(timeSince('2025-01-01T09:00:00+00:00', now)).toBe('3h 00m');
    expect(timeSince('not a date', now)).toBe('');
  });
  it('formats the next retry time as hh:mm', () => {
    expect(formatClock('2025-01-01T08:05:00Z', 'UTC')).toBe('08:05');
    expect(formatClock('2025-01-01T23:59:59Z', 'UTC')).toBe('23:59');
    expect(formatClock('2025-01-01T23:59:59Z', 'Europe/Paris')).toBe('00:59');
  });
});

describe('the cards clock', () => {
  function page(state: DocumentVisibilityState) {
    const listeners: (() => void)[] = [];
    return {
      visibilityState: state,
      addEventListener: (_: 'visibilitychange', l: () => void) => listeners.push(l),
      show(next: DocumentVisibilityState) {
        this.visibilityState = next;
        for (const l of listeners) l();
      },
    };
  }

  it('ticks every minute while shown, not while hidden, and at once when shown again', () => {
    vi.useFakeTimers();
    try {
      const p = page('visible');
      const ticks: number[] = [];
      const stop = startCardClock(p, (now) => ticks.push(now));
      vi.advanceTimersByTime(2 * MIN);
      expect(ticks.length).toBe(2);
      p.show('hidden');
      vi.advanceTimersByTime(10 * MIN);
      expect(ticks.length).toBe(2);
      p.show('visible');
      expect(ticks.length).toBe(3);
      expect(ticks[2]).toBe(Date.now());
      stop();
      vi.advanceTimersByTime(5 * MIN);
      expect(ticks.length).toBe(3);
    } finally {
      vi.useRealTimers();
    }
  });
});
