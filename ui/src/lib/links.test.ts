import { describe, expect, it } from 'vitest';
import { notionPageUrl } from './links';

describe('notionPageUrl', () => {
  it('makes the page address from its id, with or without dashes', () => {
    const url = 'https://www.notion.so/1a2b3c4d5e6f708192a3b4c5d6e7f809';
    expect(notionPageUrl('1A2B3C4D-5E6F-7081-92A3-B4C5D6E7F809')).toBe(url);
    expect(notionPageUrl('1a2b3c4d5e6f708192a3b4c5d6e7f809')).toBe(url);
  });

  it('gives nothing for a missing or foreign id', () => {
    for (const bad of [null, undefined, '', 'abc', 'javascript:alert(1)', 'https://evil.example/1a2b3c4d5e6f708192a3b4c5d6e7f809']) {
      expect(notionPageUrl(bad)).toBeNull();
    }
  });
});
