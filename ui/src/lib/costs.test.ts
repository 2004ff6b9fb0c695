import { describe, expect, it } from 'vitest';
import { approveCostLabel, usd } from './costs';

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
});
