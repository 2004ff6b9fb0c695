// The stuck rule: a card that sits more than 3x its step's typical time is marked stuck.
import type { Status } from './bindings/Status';

const MIN = 60_000;

/**
 * Typical time a task spends in each status that the machine is responsible for (the local
 * generators are fast; the paid APIs of the real pipeline set these numbers). Statuses that wait
 * on a person (draft, gates), errors and terminal states are never "stuck".
 */
export const TYPICAL_MS: Readonly<Partial<Record<Status, number>>> = {
  queued: 10 * MIN,
  claimed: 1 * MIN,
  generating_assets: 10 * MIN, // 22 images
  assets_approved: 2 * MIN,
  generating_composites: 5 * MIN, // 18 composites, local
  composites_ready: 2 * MIN,
  generating_video: 30 * MIN, // 18 clips
  video_approved: 2 * MIN,
  generating_audio: 5 * MIN, // 18 narration clips
  audio_approved: 2 * MIN,
  generating_sfx: 5 * MIN,
  sfx_ready: 2 * MIN,
  assembling: 10 * MIN,
  assembly_ready: 2 * MIN,
  approved: 2 * MIN,
  uploading: 15 * MIN,
};

export const STUCK_FACTOR = 3;

export function isStuck(status: Status, statusChangedAt: string, now: number): boolean {
  const typical = TYPICAL_MS[status];
  if (typical === undefined) return false;
  const since = Date.parse(statusChangedAt);
  if (Number.isNaN(since)) return false;
  return now - since > STUCK_FACTOR * typical;
}
