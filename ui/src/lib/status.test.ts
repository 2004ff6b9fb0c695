import { describe, expect, it } from 'vitest';
import type { Status } from './bindings/Status';
import { ALL_STATUSES, COLUMNS, approvedPreview, columnOf, GATES, isGate, isError, statusName, statusTone, STATUS_INFO, stepProgress } from './status';
import type { Task } from './bindings/Task';

// The table comes from the Rust `Status::ALL` (bindings/StatusTable.ts, checked for staleness by
// the core's bindings test); these check how the UI reads it.
describe('status names', () => {
  it('has all 27 statuses in pipeline order, draft first', () => {
    expect(ALL_STATUSES).toHaveLength(27);
    expect(ALL_STATUSES[0]).toBe('draft');
    expect(ALL_STATUSES.indexOf('assets_ready')).toBeLessThan(ALL_STATUSES.indexOf('video_ready'));
  });
  it('shows board names, not internal values', () => {
    expect(statusName('claimed')).toBe('Processing');
    expect(statusName('final_review')).toBe('Ready for Review');
    expect(statusName('published')).toBe('Upload Complete');
  });
  it('board names are unique', () => {
    expect(new Set(ALL_STATUSES.map(statusName)).size).toBe(27);
  });
  it('gates and steps come with the table', () => {
    expect(GATES).toEqual(['assets_ready', 'video_ready', 'audio_ready', 'final_review']);
    expect(STATUS_INFO.generating_video.step).toBe('video');
    expect(STATUS_INFO.draft.step).toBeNull();
  });
});

describe('kinds and tones', () => {
  it('has exactly the four gates', () => {
    expect(ALL_STATUSES.filter(isGate)).toEqual(['assets_ready', 'video_ready', 'audio_ready', 'final_review']);
  });
  it('has exactly the four errors, all red', () => {
    const errs = ALL_STATUSES.filter(isError);
    expect(errs).toEqual(['asset_error', 'video_error', 'audio_error', 'upload_error']);
    for (const s of errs) expect(statusTone(s)).toBe('error');
  });
  it('gates are prominent and normal work is calm', () => {
    expect(statusTone('assets_ready')).toBe('gate');
    expect(statusTone('generating_video')).toBe('calm');
    expect(statusTone('published')).toBe('done');
    expect(STATUS_INFO.composites_ready.kind).toBe('pass_through');
  });
});

describe('columns', () => {
  it('place every status in exactly one column', () => {
    for (const s of ALL_STATUSES) {
      expect(COLUMNS.filter((c) => c.statuses.includes(s)), s).toHaveLength(1);
    }
  });
  it('are in pipeline order', () => {
    const order = (s: Status) => ALL_STATUSES.indexOf(s);
    const firsts = COLUMNS.filter((c) => c.id !== 'errors' && c.id !== 'cancelled').map((c) => order(c.statuses[0]));
    expect([...firsts].sort((a, b) => a - b)).toEqual(firsts);
  });
  it('give every gate its own column and fold pass-through states into a step', () => {
    for (const g of ['assets_ready', 'video_ready', 'audio_ready', 'final_review'] as Status[]) {
      expect(columnOf(g).statuses).toEqual([g]);
      expect(columnOf(g).tone).toBe('gate');
    }
    expect(columnOf('composites_ready').id).toBe(columnOf('generating_composites').id);
    expect(columnOf('sfx_ready').id).toBe(columnOf('generating_sfx').id);
    expect(columnOf('asset_error').tone).toBe('error');
  });
});

describe('approvedPreview', () => {
  const base = { id: 't1', title: 'T', status: 'assets_ready', status_changed_at: '2026-01-01T00:00:00Z', review_completed_at: null } as unknown as Task;
  it('moves every gate to its decision status, stamped now', () => {
    const now = new Date('2026-11-25T10:00:00Z');
    const expected: Record<string, Status> = {
      assets_ready: 'assets_approved',
      video_ready: 'video_approved',
      audio_ready: 'audio_approved',
      final_review: 'approved',
    };
    for (const g of GATES) {
      const t = approvedPreview({ ...base, status: g }, now);
      expect(t?.status, g).toBe(expected[g]);
      expect(t?.status_changed_at).toBe(now.toISOString());
      expect(t?.review_completed_at).toBe(now.toISOString());
      // A decision status is one the transition table allows from the gate: not a gate, not an error.
      expect(STATUS_INFO[t!.status].kind).toBe('decision');
    }
  });
  it('refuses a task that is not at a gate, and leaves the input alone', () => {
    expect(approvedPreview({ ...base, status: 'generating_assets' })).toBeNull();
    expect(approvedPreview({ ...base, status: 'asset_error' })).toBeNull();
    approvedPreview(base);
    expect(base.status).toBe('assets_ready');
  });
});

describe('stepProgress', () => {
  it('keeps what follows the status name', () => {
    expect(stepProgress('Videos Generating: 7/18')).toBe('7/18');
    expect(stepProgress('Assembling Video: 42%')).toBe('42%');
    expect(stepProgress('Videos Generating: 3/18, clip_04 50%')).toBe('3/18, clip_04 50%');
    expect(stepProgress('idle')).toBeNull();
  });
});
