// How a status is named and where it sits on the board. The table itself is generated from the
// Rust `Status::ALL` (bindings/StatusTable.ts), so the UI never keeps a copy of its own.
import type { Status } from './bindings/Status';
import type { StatusKind } from './bindings/StatusKind';
import type { Task } from './bindings/Task';
import { STATUS_TABLE, type StatusRow } from './bindings/StatusTable';

export type StatusInfo = StatusRow;

/** Every status in pipeline order. */
export const STATUS_INFO: Readonly<Record<Status, StatusInfo>> = STATUS_TABLE;

export const ALL_STATUSES = Object.keys(STATUS_INFO) as Status[];

export function statusName(s: Status): string {
  return STATUS_INFO[s]?.name ?? s;
}

export function statusKind(s: Status): StatusKind {
  return STATUS_INFO[s].kind;
}

export const GATES: readonly Status[] = ALL_STATUSES.filter((s) => STATUS_INFO[s].gate);
export const ERRORS: readonly Status[] = ALL_STATUSES.filter((s) => STATUS_INFO[s].kind === 'error');

export function isGate(s: Status): boolean {
  return STATUS_INFO[s].kind === 'gate';
}

export function isError(s: Status): boolean {
  return STATUS_INFO[s].kind === 'error';
}

/** Colour family of a status on the board. */
export type Tone = 'calm' | 'gate' | 'error' | 'done' | 'muted';

export function statusTone(s: Status): Tone {
  switch (STATUS_INFO[s].kind) {
    case 'gate':
      return 'gate';
    case 'error':
      return 'error';
    case 'terminal':
      return s === 'published' ? 'done' : 'muted';
    case 'planning':
      return 'muted';
    default:
      return 'calm';
  }
}

export interface Column {
  id: string;
  title: string;
  statuses: Status[];
  tone: Tone;
}

/**
 * Board columns in pipeline order. Pass-through and decision states fold into the step that
 * follows them (a decision is a moment, not a place a task waits); gates get their own column.
 */
export const COLUMNS: readonly Column[] = [
  { id: 'draft', title: 'Draft', statuses: ['draft'], tone: 'muted' },
  { id: 'queued', title: 'Queued', statuses: ['queued', 'claimed'], tone: 'calm' },
  { id: 'assets', title: 'Assets Generating', statuses: ['generating_assets'], tone: 'calm' },
  { id: 'assets_ready', title: 'Assets Ready', statuses: ['assets_ready'], tone: 'gate' },
  {
    id: 'composites',
    title: 'Composites',
    statuses: ['assets_approved', 'generating_composites', 'composites_ready'],
    tone: 'calm',
  },
  { id: 'video', title: 'Videos Generating', statuses: ['generating_video'], tone: 'calm' },
  { id: 'video_ready', title: 'Videos Ready', statuses: ['video_ready'], tone: 'gate' },
  { id: 'audio', title: 'Audio Generating', statuses: ['video_approved', 'generating_audio'], tone: 'calm' },
  { id: 'audio_ready', title: 'Audio Ready', statuses: ['audio_ready'], tone: 'gate' },
  {
    id: 'sfx_assembly',
    title: 'SFX & Assembly',
    statuses: ['audio_approved', 'generating_sfx', 'sfx_ready', 'assembling', 'assembly_ready'],
    tone: 'calm',
  },
  { id: 'final_review', title: 'Ready for Review', statuses: ['final_review'], tone: 'gate' },
  { id: 'uploading', title: 'Uploading', statuses: ['approved', 'uploading'], tone: 'calm' },
  { id: 'published', title: 'Upload Complete', statuses: ['published'], tone: 'done' },
  {
    id: 'errors',
    title: 'Errors',
    statuses: ['asset_error', 'video_error', 'audio_error', 'upload_error'],
    tone: 'error',
  },
  { id: 'cancelled', title: 'Cancelled', statuses: ['cancelled'], tone: 'muted' },
];

export function columnOf(s: Status): Column {
  const c = COLUMNS.find((col) => col.statuses.includes(s));
  if (!c) throw new Error(`status ${s} has no column`);
  return c;
}

/** Which step an error status stands for, when the error log does not say. */
export const ERROR_STEP: Readonly<Partial<Record<Status, string>>> = {
  asset_error: 'Assets or composites',
  video_error: 'Video or assembly',
  audio_error: 'Narration or SFX',
  upload_error: 'Upload',
};

/** The error status a gate's rejection leads to. */
export const GATE_REJECT_TO: Readonly<Partial<Record<Status, Status>>> = {
  assets_ready: 'asset_error',
  video_ready: 'video_error',
  audio_ready: 'audio_error',
  final_review: 'video_error',
};

/** The decision status a gate's approval leads to (the worker then re-queues the task). */
export const GATE_APPROVE_TO: Readonly<Partial<Record<Status, Status>>> = {
  assets_ready: 'assets_approved',
  video_ready: 'video_approved',
  audio_ready: 'audio_approved',
  final_review: 'approved',
};

/**
 * The task as it will be once the approval the creator just gave is recorded: shown at once, before
 * the backend answers (which then replaces it, or restores the original on a refusal).
 * `null` when the task is not at a gate.
 */
export function approvedPreview(task: Task, now: Date = new Date()): Task | null {
  const to = GATE_APPROVE_TO[task.status];
  if (!to) return null;
  const at = now.toISOString();
  return { ...task, status: to, status_changed_at: at, review_completed_at: at };
}

/**
 * The progress part of the worker's "doing" text ("Videos Generating: 7/18" → "7/18",
 * "Assembling Video: 42%" → "42%"): the card already names the status. Null when there is none.
 */
export function stepProgress(doing: string): string | null {
  const i = doing.indexOf(': ');
  const p = i < 0 ? '' : doing.slice(i + 2).trim();
  return p || null;
}
