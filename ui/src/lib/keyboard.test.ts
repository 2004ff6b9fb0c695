import { describe, expect, it } from 'vitest';
import { isTypingTarget, moveInGroups, resolveKey } from './keyboard';

const k = (key: string, extra: object = {}) => ({ key, ...extra });

describe('keyboard map', () => {
  it('maps the gallery keys the README lists', () => {
    expect(resolveKey(k('ArrowRight'), 'gallery')).toBe('right');
    expect(resolveKey(k('ArrowUp'), 'gallery')).toBe('up');
    expect(resolveKey(k(' '), 'gallery')).toBe('open');
    expect(resolveKey(k('Enter'), 'gallery')).toBe('open');
    expect(resolveKey(k('Escape'), 'gallery')).toBe('close');
    expect(resolveKey(k('a'), 'gallery')).toBe('approve');
    expect(resolveKey(k('A'), 'gallery')).toBe('approve');
    expect(resolveKey(k('r'), 'gallery')).toBe('reject');
    expect(resolveKey(k('f'), 'gallery')).toBe('flag');
    expect(resolveKey(k('v'), 'gallery')).toBe('compare');
    expect(resolveKey(k('j'), 'gallery')).toBe('next-task');
    expect(resolveKey(k('k'), 'gallery')).toBe('prev-task');
    expect(resolveKey(k('?'), 'gallery')).toBe('help');
  });
  it('opens the settings with , outside text boxes and dialogs', () => {
    for (const ctx of ['board', 'gallery', 'viewer'] as const) expect(resolveKey(k(','), ctx)).toBe('settings');
    expect(resolveKey(k(','), 'dialog')).toBeNull();
    expect(resolveKey(k(',', { target: { tagName: 'INPUT', type: 'text' } }), 'board')).toBeNull();
    expect(resolveKey(k(',', { ctrlKey: true }), 'board')).toBeNull();
  });
  it('moves through images and zooms in the viewer', () => {
    expect(resolveKey(k('ArrowLeft'), 'viewer')).toBe('left');
    expect(resolveKey(k('1'), 'viewer')).toBe('zoom-1to1');
    expect(resolveKey(k('0'), 'viewer')).toBe('zoom-fit');
    expect(resolveKey(k('Escape'), 'viewer')).toBe('close');
  });
  it('does not fire while typing in a text box', () => {
    for (const target of [{ tagName: 'TEXTAREA' }, { tagName: 'INPUT', type: 'text' }, { tagName: 'INPUT' }, { tagName: 'DIV', isContentEditable: true }]) {
      expect(resolveKey(k('a', { target }), 'gallery')).toBeNull();
      expect(resolveKey(k('f', { target }), 'gallery')).toBeNull();
      expect(resolveKey(k('ArrowLeft', { target }), 'gallery')).toBeNull();
      expect(resolveKey(k(' ', { target }), 'gallery')).toBeNull();
    }
    // Esc still closes the box.
    expect(resolveKey(k('Escape', { target: { tagName: 'TEXTAREA' } }), 'dialog')).toBe('close');
    // A checkbox is not a text box.
    expect(isTypingTarget({ tagName: 'INPUT', type: 'checkbox' })).toBe(false);
  });
  it('leaves modified keys and dialogs alone', () => {
    expect(resolveKey(k('a', { ctrlKey: true }), 'gallery')).toBeNull();
    expect(resolveKey(k('r', { metaKey: true }), 'gallery')).toBeNull();
    expect(resolveKey(k('a'), 'dialog')).toBeNull();
    expect(resolveKey(k('a'), 'board')).toBeNull();
    expect(resolveKey(k('j'), 'board')).toBe('next-task');
  });
  it('moves between tiles of grouped rows (8 / 8 / 6)', () => {
    const g = [8, 8, 6];
    expect(moveInGroups(g, 8, 0, 'left')).toBe(0);
    expect(moveInGroups(g, 8, 7, 'right')).toBe(8);
    expect(moveInGroups(g, 8, 21, 'right')).toBe(21);
    expect(moveInGroups(g, 8, 3, 'down')).toBe(11);
    expect(moveInGroups(g, 8, 15, 'down')).toBe(21); // column 7 → last prop
    expect(moveInGroups(g, 8, 17, 'up')).toBe(9);
    expect(moveInGroups(g, 8, 2, 'up')).toBe(2);
    expect(moveInGroups(g, 8, 20, 'down')).toBe(20);
  });
});
