import { describe, expect, it } from 'vitest';
import { formatClock, formatDuration, timeSince } from './time';

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
