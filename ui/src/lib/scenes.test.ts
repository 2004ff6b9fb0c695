import { describe, expect, it } from 'vitest';
import { canEditScene, spokenSeconds } from './scenes';

describe('scene edits', () => {
  it('each text can change until the step that uses it runs', () => {
    expect(canEditScene('motion', 'assets_ready')).toBe(true);
    expect(canEditScene('motion', 'video_ready')).toBe(false);
    expect(canEditScene('narration', 'video_ready')).toBe(true);
    expect(canEditScene('narration', 'audio_ready')).toBe(false);
    expect(canEditScene('sfx', 'audio_ready')).toBe(true);
    expect(canEditScene('sfx', 'final_review')).toBe(false);
    expect(canEditScene('narration', 'draft')).toBe(true);
    expect(canEditScene('narration', 'generating_assets')).toBe(false);
  });
  it('estimates how long a line takes to speak', () => {
    expect(spokenSeconds('one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty')).toBe(7.3);
    expect(spokenSeconds('  ')).toBe(0);
  });
});
