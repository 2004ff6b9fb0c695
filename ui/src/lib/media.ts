// What the task page shows at the gates after the assets gate: the clips, narration, sound effects
// and final video the later steps made (TaskDetail.outputs), grouped for review.

import type { Status } from './bindings/Status';
import type { Step } from './bindings/Step';
import type { StepOutput } from './bindings/StepOutput';
import { resolveKey, type Action, type KeyLike } from './keyboard';

/** One block of the media review: a step's outputs, played as video or audio. */
export interface MediaGroup {
  step: Step;
  /** Heading, e.g. "Clips (18)". */
  label: string;
  /** `<video>` tiles or `<audio>` rows. */
  player: 'video' | 'audio';
  /** The final video: one large player instead of tiles. */
  large: boolean;
  /** In item order (clip_01, clip_02, …). */
  items: StepOutput[];
}

const STEP_INFO: Partial<Record<Step, { name: string; player: 'video' | 'audio'; large: boolean }>> = {
  video: { name: 'Clips', player: 'video', large: false },
  audio: { name: 'Narration', player: 'audio', large: false },
  sfx: { name: 'Sound effects', player: 'audio', large: false },
  assembly: { name: 'Final video', player: 'video', large: true },
};

/**
 * Which groups each status shows, the reviewed one first. A gate shows its own step's outputs and
 * those it was made with; outputs of later steps left from an earlier run are not under review.
 */
const ORDER: Partial<Record<Status, Step[]>> = {
  video_ready: ['video'],
  audio_ready: ['audio', 'video'],
  final_review: ['assembly', 'video', 'audio', 'sfx'],
  // After a rejection (or a failure) at these steps: everything that was made, to see what to fix.
  video_error: ['assembly', 'video', 'audio', 'sfx'],
  audio_error: ['audio', 'sfx', 'video', 'assembly'],
};

/** The review gates whose content is media rather than the asset gallery. */
const MEDIA_GATES: ReadonlySet<Status> = new Set<Status>(['video_ready', 'audio_ready', 'final_review']);

/**
 * Whether the task page shows the media review instead of the gallery: at the three media gates
 * always (an empty list then says so), and in the video/audio error statuses when there is media
 * to look at (a video step that failed before making anything still shows the gallery).
 */
export function showsMedia(status: Status, outputs: readonly StepOutput[] | undefined): boolean {
  if (MEDIA_GATES.has(status)) return true;
  const steps = ORDER[status];
  return !!steps && (outputs ?? []).some((o) => steps.includes(o.step));
}

/** A short label for one output: "Clip 3", "Narration 12", "SFX 1", "Final video". */
export function itemLabel(o: StepOutput): string {
  if (o.step === 'assembly') return 'Final video';
  const n = /_(\d+)$/.exec(o.item);
  const num = n ? String(Number(n[1])) : o.item;
  switch (o.step) {
    case 'video':
      return `Clip ${num}`;
    case 'audio':
      return `Narration ${num}`;
    case 'sfx':
      return `SFX ${num}`;
    default:
      return o.item;
  }
}

/** The groups to show for a status, in display order, without empty ones. */
export function mediaGroups(status: Status, outputs: readonly StepOutput[]): MediaGroup[] {
  const steps = ORDER[status] ?? [];
  const groups: MediaGroup[] = [];
  for (const step of steps) {
    const info = STEP_INFO[step];
    if (!info) continue;
    const items = outputs
      .filter((o) => o.step === step)
      .sort((a, b) => a.item.localeCompare(b.item, 'en', { numeric: true }));
    if (!items.length) continue;
    groups.push({
      step,
      label: info.large ? info.name : `${info.name} (${items.length})`,
      player: info.player,
      large: info.large,
      items,
    });
  }
  return groups;
}

/** Whether an output's file can be played (a missing or emptied file gets a tile saying so). */
export function isPlayable(o: StepOutput): boolean {
  return o.file_state === 'ok';
}

/** Gallery actions that have nothing to act on while the media review replaces the gallery. */
const GALLERY_ONLY: ReadonlySet<Action> = new Set<Action>(['left', 'right', 'up', 'down', 'open', 'flag', 'compare']);

/**
 * Whether a key press means a gallery action (arrows, Space/Enter, F, V) that would act on the
 * hidden asset gallery behind the media review. Those keys go to the focused player instead
 * (Space plays, arrows seek); A, R, J/K, Esc and ? keep their meaning.
 */
export function isGalleryOnlyKey(e: KeyLike): boolean {
  const a = resolveKey(e, 'gallery');
  return a !== null && GALLERY_ONLY.has(a);
}
