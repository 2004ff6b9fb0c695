import { describe, expect, it } from 'vitest';
import type { AssetDetail } from './bindings/AssetDetail';
import { feedbackValid, flaggedAssets, prefillFeedback } from './feedback';

const asset = (name: string, flagged = false, flag_note: string | null = null): AssetDetail => ({
  file: `a/${name}.png`, file_state: 'ok', versions: [], task_id: 't', name, kind: 'character', prompt: '',
  position: 0, current_version: 1, review_state: 'generated', flagged, flag_note, failure: null,
});

describe('reject feedback', () => {
  it('is pre-filled with the flagged names and their notes', () => {
    const assets = [asset('diver'), asset('octopus', true), asset('lantern', true, ' too dark ')];
    expect(flaggedAssets(assets).map((a) => a.name)).toEqual(['octopus', 'lantern']);
    expect(prefillFeedback(assets)).toBe('Regenerate octopus, lantern (too dark): ');
  });
  it('is empty when nothing is flagged', () => {
    expect(prefillFeedback([asset('diver')])).toBe('');
  });
  it('is required', () => {
    expect(feedbackValid('')).toBe(false);
    expect(feedbackValid('  \n ')).toBe(false);
    expect(feedbackValid('brighter')).toBe(true);
  });
});
