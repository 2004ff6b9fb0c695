import { describe, expect, it } from 'vitest';
import { isStuck, STUCK_FACTOR, TYPICAL_MS } from './stuck';
import { ALL_STATUSES, statusKind } from './status';

const now = Date.parse('2025-01-01T12:00:00Z');
const ago = (ms: number) => new Date(now - ms).toISOString();

describe('stuck rule', () => {
  it('marks a card after more than 3x the typical time of its step', () => {
    const t = TYPICAL_MS.generating_assets!;
    expect(isStuck('generating_assets', ago(STUCK_FACTOR * t), now)).toBe(false);
    expect(isStuck('generating_assets', ago(STUCK_FACTOR * t + 1000), now)).toBe(true);
  });
  it('never marks gates, errors, drafts or terminal states', () => {
    const long = ago(30 * 24 * 3600_000);
    for (const s of ALL_STATUSES) {
      const k = statusKind(s);
      if (k === 'gate' || k === 'error' || k === 'terminal' || s === 'draft') expect(isStuck(s, long, now), s).toBe(false);
    }
  });
  it('has a typical time for every step, pass-through and decision state', () => {
    for (const s of ALL_STATUSES) {
      const k = statusKind(s);
      if (k === 'step' || k === 'pass_through' || k === 'decision') expect(TYPICAL_MS[s], s).toBeGreaterThan(0);
    }
  });
  it('ignores unparseable times', () => {
    expect(isStuck('uploading', 'garbage', now)).toBe(false);
  });
});
