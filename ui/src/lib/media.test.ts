import { describe, expect, it } from 'vitest';
import type { FileState } from './bindings/FileState';
import type { Step } from './bindings/Step';
import type { StepOutput } from './bindings/StepOutput';
import {
  chapterTime,
  flaggableStep,
  flaggedItems,
  isGalleryOnlyKey,
  isPlayable,
  itemLabel,
  itemPrefill,
  mediaGroups,
  previousVersionFile,
  sceneNumber,
  showsMedia,
  toggleItemFlag,
  waveformPath,
} from './media';

function out(step: Step, item: string, file_state: FileState = 'ok', version = 1): StepOutput {
  return { step, item, file: `channels/default/projects/t/${step}/${item}`, file_state, version, note: null };
}

const clips = [out('video', 'clip_10'), out('video', 'clip_02'), out('video', 'clip_01', 'missing')];
const narration = [out('audio', 'narration_02'), out('audio', 'narration_01')];
const sfx = [out('sfx', 'sfx_01')];
const final = [out('assembly', 'final')];
const all = [...final, ...sfx, ...narration, ...clips];

describe('showsMedia', () => {
  it('is on at the three media gates, even before anything is listed', () => {
    for (const s of ['video_ready', 'audio_ready', 'final_review'] as const) {
      expect(showsMedia(s, [])).toBe(true);
      expect(showsMedia(s, all)).toBe(true);
    }
  });
  it('is off at the assets gate and while steps run', () => {
    for (const s of ['assets_ready', 'asset_error', 'generating_video', 'queued', 'published'] as const) {
      expect(showsMedia(s, all)).toBe(false);
    }
  });
  it('is on in the video/audio errors only when there is media to look at', () => {
    expect(showsMedia('video_error', [])).toBe(false);
    expect(showsMedia('video_error', clips)).toBe(true);
    expect(showsMedia('audio_error', narration)).toBe(true);
    expect(showsMedia('upload_error', all)).toBe(false);
  });
});

describe('mediaGroups', () => {
  it('shows only the clips at Videos Ready, in item order', () => {
    const g = mediaGroups('video_ready', all);
    expect(g.map((x) => x.step)).toEqual(['video']);
    expect(g[0].label).toBe('Clips (3)');
    expect(g[0].player).toBe('video');
    expect(g[0].large).toBe(false);
    expect(g[0].items.map((o) => o.item)).toEqual(['clip_01', 'clip_02', 'clip_10']);
  });
  it('puts the reviewed step first and skips empty groups', () => {
    expect(mediaGroups('audio_ready', [...narration, ...clips]).map((x) => [x.step, x.player])).toEqual([
      ['audio', 'audio'],
      ['video', 'video'],
    ]);
    expect(mediaGroups('audio_ready', clips).map((x) => x.step)).toEqual(['video']);
  });
  it('leads the final review with one large final video', () => {
    const g = mediaGroups('final_review', all);
    expect(g.map((x) => x.step)).toEqual(['assembly', 'video', 'audio', 'sfx']);
    expect(g[0]).toMatchObject({ label: 'Final video', large: true, player: 'video' });
    expect(g[3]).toMatchObject({ label: 'Sound effects (1)', player: 'audio' });
  });
  it('does not mutate its input and is empty for other statuses', () => {
    const input = [...clips];
    mediaGroups('video_ready', input);
    expect(input.map((o) => o.item)).toEqual(['clip_10', 'clip_02', 'clip_01']);
    expect(mediaGroups('assets_ready', all)).toEqual([]);
  });
});

describe('itemLabel and isPlayable', () => {
  it('labels items for people', () => {
    expect(itemLabel(out('video', 'clip_07'))).toBe('Clip 7');
    expect(itemLabel(out('audio', 'narration_12'))).toBe('Narration 12');
    expect(itemLabel(out('sfx', 'sfx_01'))).toBe('SFX 1');
    expect(itemLabel(out('assembly', 'final'))).toBe('Final video');
    expect(itemLabel(out('video', 'odd'))).toBe('Clip odd');
  });
  it('plays only files that are there as recorded', () => {
    expect(isPlayable(out('video', 'clip_01'))).toBe(true);
    expect(isPlayable(out('video', 'clip_01', 'missing'))).toBe(false);
    expect(isPlayable(out('video', 'clip_01', 'changed'))).toBe(false);
  });
});

describe('isGalleryOnlyKey', () => {
  it('claims the gallery keys for the players and leaves the decision keys alone', () => {
    for (const key of [' ', 'Enter', 'ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'f', 'F', 'v']) {
      expect(isGalleryOnlyKey({ key }), key).toBe(true);
    }
    for (const key of ['a', 'A', 'r', 'j', 'k', 'Escape', '?', ',', 'x']) {
      expect(isGalleryOnlyKey({ key }), key).toBe(false);
    }
  });
  it('leaves modified keys and typing alone', () => {
    expect(isGalleryOnlyKey({ key: 'f', ctrlKey: true })).toBe(false);
    expect(isGalleryOnlyKey({ key: ' ', target: { tagName: 'TEXTAREA' } })).toBe(false);
  });
});

describe('flags on clips and narration', () => {
  it('only the step under review can be flagged', () => {
    expect(flaggableStep('video_ready')).toBe('video');
    expect(flaggableStep('audio_ready')).toBe('audio');
    expect(flaggableStep('final_review')).toBe('sfx');
    expect(flaggableStep('assets_ready')).toBeNull();
  });
  it('F toggles a flag; a note flags and is kept', () => {
    let f = toggleItemFlag({}, 'clip_10');
    f = toggleItemFlag(f, 'clip_02', 'too dark');
    expect(flaggedItems(f)).toEqual(['clip_02', 'clip_10']);
    expect(f.clip_02).toBe('too dark');
    f = toggleItemFlag(f, 'clip_10');
    expect(flaggedItems(f)).toEqual(['clip_02']);
  });
  it('the reject box opens with the flagged items, their notes in the feedback', () => {
    const f = { clip_07: '', clip_03: 'wrong character' };
    expect(itemPrefill(f, 'video')).toBe('Regenerate Clip 3 (wrong character), Clip 7: ');
    expect(itemPrefill({}, 'video')).toBe('');
  });
  it('knows the scene of an item and where its previous version is kept', () => {
    expect(sceneNumber('narration_12')).toBe(12);
    expect(sceneNumber('final')).toBeNull();
    const v2 = { ...out('video', 'clip_03', 'ok', 2), file: 'channels/d/projects/t/video/clip_03.mp4' };
    expect(previousVersionFile(v2)).toBe('channels/d/projects/t/video/versions/clip_03.v1.mp4');
    expect(previousVersionFile(out('video', 'clip_01'))).toBeNull();
  });
});

describe('waveformPath', () => {
  it('draws one bar per peak around the middle, loud bars taller', () => {
    const d = waveformPath([0, 255, 128], 28);
    const bars = d.split('M').filter(Boolean);
    expect(bars).toHaveLength(3);
    expect(bars[0]).toBe('0 13.50h1v1.00h-1z');
    expect(bars[1]).toBe('1 0.00h1v28.00h-1z');
    expect(bars[2].startsWith('2 ')).toBe(true);
  });
});

describe('chapterTime', () => {
  it('reads like YouTube chapter stamps', () => {
    expect(chapterTime(0)).toBe('0:00');
    expect(chapterTime(65.9)).toBe('1:05');
    expect(chapterTime(3903)).toBe('1:05:03');
    expect(chapterTime(-1)).toBe('0:00');
  });
});
