/** A stable hue per channel, so a channel keeps its colour everywhere. */
export function channelHue(channel: string): number {
  let h = 0;
  for (let i = 0; i < channel.length; i++) h = (h * 31 + channel.charCodeAt(i)) >>> 0;
  return h % 360;
}
