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

/**
 * The step whose items can be flagged at a gate: the one under review (clips, narration), and at
 * Ready for Review the sound effects, which have no gate of their own (flagging one remakes it,
 * then the whole video).
 */
export function flaggableStep(status: Status): Step | null {
  switch (status) {
    case 'video_ready':
      return 'video';
    case 'audio_ready':
      return 'audio';
    case 'final_review':
      return 'sfx';
    default:
      return null;
  }
}

/** Items flagged for regeneration at a media gate, each with its note ('' for none). */
export type ItemFlags = Record<string, string>;

/** Flags or unflags an item (a note given flags it, keeping the note). */
export function toggleItemFlag(flags: ItemFlags, item: string, note?: string): ItemFlags {
  const next = { ...flags };
  if (note !== undefined) next[item] = note.trim();
  else if (item in next) delete next[item];
  else next[item] = '';
  return next;
}

/** The flagged items in item order (clip_02 before clip_10). */
export function flaggedItems(flags: ItemFlags): string[] {
  return Object.keys(flags).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

/**
 * The reject box's opening text at a media gate: the flagged items by their labels, with notes —
 * the feedback is what the log and the audit keep, so a note must be in it.
 */
export function itemPrefill(flags: ItemFlags, step: Step): string {
  const items = flaggedItems(flags);
  if (!items.length) return '';
  const parts = items.map((item) => {
    const label = itemLabel({ step, item } as StepOutput);
    return flags[item] ? `${label} (${flags[item]})` : label;
  });
  return `Regenerate ${parts.join(', ')}: `;
}

/** The scene an item belongs to (clip_03 → 3), or null for the final video. */
export function sceneNumber(item: string): number | null {
  const m = /_(\d+)$/.exec(item);
  return m ? Number(m[1]) : null;
}

/**
 * The file of an item's previous version, kept by the worker beside it as
 * `versions/{item}.v{n}.{ext}`; null for a first version.
 */
export function previousVersionFile(o: StepOutput): string | null {
  if (o.version <= 1) return null;
  const slash = o.file.lastIndexOf('/');
  const dir = o.file.slice(0, slash + 1);
  const ext = o.file.slice(o.file.lastIndexOf('.') + 1);
  return `${dir}versions/${o.item}.v${o.version - 1}.${ext}`;
}

/**
 * An SVG path of a waveform: one bar per peak (0–255), centred on the middle line of a box
 * `peaks.length` wide and `height` high. Silence draws a hairline so the row still shows a track.
 */
export function waveformPath(peaks: readonly number[], height: number): string {
  const mid = height / 2;
  return peaks
    .map((p, x) => {
      const h = Math.max(0.5, (Math.min(255, Math.max(0, p)) / 255) * mid);
      return `M${x} ${(mid - h).toFixed(2)}h1v${(2 * h).toFixed(2)}h-1z`;
    })
    .join('');
}

/** A chapter's start as the final video's chapter list shows it: `m:ss` (`1:05:03` past an hour). */
export function chapterTime(seconds: number): string {
  const t = Math.max(0, Math.floor(seconds));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const s = String(t % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}
