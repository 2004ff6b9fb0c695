import { describe, expect, it } from 'vitest';
import { approveCostLabel, spendLabel, usd } from './costs';

describe('money on screen', () => {
  it('shows dollars as the CLI does', () => {
    expect(usd(7.56)).toBe('$7.56');
    expect(usd(0)).toBe('$0.00');
    expect(usd(0.039)).toBe('$0.04');
    expect(usd(0.0033)).toBe('$0.0033');
    expect(usd(12)).toBe('$12.00');
    expect(usd(1.005)).toBe('$1.01');
  });
  it('says what approving starts', () => {
    expect(approveCostLabel({ step: 'video', items: 18, model: 'kling-v2-5-turbo std', usd: 7.56 })).toBe(
      '18 clips with kling-v2-5-turbo std, about $7.56',
    );
    expect(approveCostLabel({ step: 'audio', items: 1, model: 'eleven_multilingual_v2', usd: 0.03 })).toBe(
      '1 narration with eleven_multilingual_v2, about $0.03',
    );
    expect(approveCostLabel(null)).toBeNull();
    expect(approveCostLabel({ step: 'sfx', items: 0, model: 'x', usd: 0 })).toBeNull();
  });
  it("shows each channel's spend today against its budget", () => {
    expect(spendLabel({ channel_id: 'news', spent_usd: 3.78, held_usd: 0, budget_usd: 25 })).toEqual({
      text: 'news: $3.78 of $25.00 today',
      tone: '',
    });
    expect(spendLabel({ channel_id: 'news', spent_usd: 20, held_usd: 0.84, budget_usd: 25 }).tone).toBe('warn');
    expect(spendLabel({ channel_id: 'news', spent_usd: 24.9, held_usd: 0.42, budget_usd: 25 })).toEqual({
      text: 'news: $24.90 of $25.00 today (+$0.42 under way)',
      tone: 'error',
    });
    expect(spendLabel({ channel_id: 'lab', spent_usd: 1.5, held_usd: 0, budget_usd: null }).text).toBe('lab: $1.50 today');
  });
});
