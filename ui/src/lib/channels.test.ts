import { describe, expect, it } from 'vitest';
import { channelErrors, emptyChannel, errorField } from './channels';

describe('channel editor', () => {
  it('names each field that cannot be saved', () => {
    const e = channelErrors({ ...emptyChannel(), channel_id: 'bad id!', max_concurrent: 0, budget_daily_usd: -1, narration_voice: 'en us' });
    expect(Object.keys(e).sort()).toEqual(['budget_daily_usd', 'channel_id', 'channel_name', 'max_concurrent', 'narration_voice']);
    expect(channelErrors({ ...emptyChannel(), channel_id: 'science_daily', channel_name: 'Science' })).toEqual({});
  });

  it('finds the field a server error names', () => {
    expect(errorField('invalid channel_id: "x y" must match ^[a-zA-Z0-9_]{1,100}$')).toBe('channel_id');
    expect(errorField('invalid narration_voice: narration.voice: use an espeak-ng voice')).toBe('narration_voice');
    expect(errorField('invalid original_id: there is no channel')).toBeNull();
    expect(errorField('the database is locked')).toBeNull();
  });
});
