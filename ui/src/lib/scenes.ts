// The scene plan on the task page: which of a scene's texts can still change in a status. Each
// text is used by one step and can change until that step runs (docs/pipeline.md, "The scene
// plan"); the server refuses the same edits with the same rule.
import type { Status } from './bindings/Status';

export type SceneField = 'motion' | 'narration' | 'sfx';

const EDITABLE: Record<SceneField, readonly Status[]> = {
  motion: ['draft', 'assets_ready'],
  narration: ['draft', 'assets_ready', 'video_ready'],
  sfx: ['draft', 'assets_ready', 'video_ready', 'audio_ready'],
};

/** Whether a scene's text can be edited while the task is in `status`. */
export function canEditScene(field: SceneField, status: Status): boolean {
  return EDITABLE[field].includes(status);
}

/** A narration line's rough length when spoken (about 165 words a minute), in seconds. */
export function spokenSeconds(line: string): number {
  const words = line.trim().split(/\s+/).filter(Boolean).length;
  return Math.round((words / 165) * 60 * 10) / 10;
}
