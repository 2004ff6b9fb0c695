import { describe, expect, it } from 'vitest';
import { StreamCatchUp } from './catchup';

describe('StreamCatchUp', () => {
  it('does not read the board again when the first read already reflects where the stream starts', () => {
    const c = new StreamCatchUp();
    expect(c.read(40)).toBe(false); // the page load's read lands first
    expect(c.live(40)).toBe(false);
    const d = new StreamCatchUp();
    expect(d.live(40)).toBe(false); // the stream opens while the read is on its way
    expect(d.read(41)).toBe(false);
  });

  it('reads again when changes were logged between the read and the stream', () => {
    const c = new StreamCatchUp();
    expect(c.read(40)).toBe(false);
    expect(c.live(43)).toBe(true);
    expect(c.read(43)).toBe(false); // the second read covers it: no loop
    const d = new StreamCatchUp();
    expect(d.live(43)).toBe(false);
    expect(d.read(40)).toBe(true);
  });

  it('after a reconnect, reads again only if something was logged since the last read', () => {
    const c = new StreamCatchUp();
    c.read(40);
    c.live(40);
    c.down();
    expect(c.read(44)).toBe(false); // a search or a refresh meanwhile: no stream to check against
    expect(c.live(44)).toBe(false);
    c.down();
    expect(c.live(45)).toBe(true);
  });

  it('reads again whenever the transport cannot say where its stream starts', () => {
    const c = new StreamCatchUp();
    c.read(40);
    expect(c.live(undefined)).toBe(true);
    expect(c.read(40)).toBe(false);
  });
});
