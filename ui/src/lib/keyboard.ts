// The keyboard map (README, "The review, in the browser"): arrows move between tiles; Space/Enter open the viewer; Esc closes;
// A approve; R reject; F flag; V compare versions; J/K next/previous task; ? lists the shortcuts;
// H shows the task's history; S its scenes; N opens New task on the board; / searches titles; , opens the settings (desktop app).

export type Action =
  | 'left'
  | 'right'
  | 'up'
  | 'down'
  | 'open'
  | 'close'
  | 'approve'
  | 'reject'
  | 'flag'
  | 'compare'
  | 'next-task'
  | 'prev-task'
  | 'help'
  | 'settings'
  | 'history'
  | 'scenes'
  | 'new-task'
  | 'search'
  | 'zoom-1to1'
  | 'zoom-fit';

export type Context = 'board' | 'gallery' | 'viewer' | 'dialog';

export interface KeyLike {
  key: string;
  ctrlKey?: boolean;
  metaKey?: boolean;
  altKey?: boolean;
  target?: unknown;
}

export const SHORTCUTS: readonly { keys: string; what: string }[] = [
  { keys: '← → ↑ ↓', what: 'Move between images (in the viewer: previous / next image)' },
  { keys: 'Space / Enter', what: 'Open the image full size' },
  { keys: 'Esc', what: 'Close the viewer, a dialog or this list' },
  { keys: 'A', what: 'Approve all' },
  { keys: 'R', what: 'Reject (opens the feedback box)' },
  { keys: 'F', what: 'Flag / unflag the selected image for regeneration' },
  { keys: 'V', what: 'Compare with the previous version, side by side' },
  { keys: 'J / K', what: 'Next / previous task waiting for review' },
  { keys: '1 / 0', what: 'Viewer: 1:1 pixels / fit to window' },
  { keys: 'H', what: 'History: decisions, review times and statuses of the task' },
  { keys: 'S', what: 'Scenes: what each shows, its camera move, narration line and sound (editable until used)' },
  { keys: 'N', what: 'New task (on the board)' },
  { keys: '/', what: 'Search task titles (on the board)' },
  { keys: '?', what: 'Show these shortcuts' },
  { keys: ',', what: 'Settings (desktop app)' },
];

interface ElementLike {
  tagName?: string;
  isContentEditable?: boolean;
  type?: string;
}

const NON_TEXT_INPUTS = new Set(['button', 'checkbox', 'radio', 'range', 'color', 'file', 'submit', 'reset', 'image']);

/** True when the key goes to a text box (input, textarea, select, contenteditable). */
export function isTypingTarget(target: unknown): boolean {
  if (!target || typeof target !== 'object') return false;
  const el = target as ElementLike;
  if (el.isContentEditable) return true;
  const tag = (el.tagName ?? '').toUpperCase();
  if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
  if (tag === 'INPUT') return !NON_TEXT_INPUTS.has((el.type ?? 'text').toLowerCase());
  return false;
}

/** The action a key press means in a context, or null (not ours: let the browser have it). */
export function resolveKey(e: KeyLike, ctx: Context): Action | null {
  if (e.ctrlKey || e.metaKey || e.altKey) return null;
  if (e.key === 'Escape') return 'close';
  if (isTypingTarget(e.target)) return null;
  if (ctx === 'dialog') return null;
  const k = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  if (k === '?') return 'help';
  if (k === ',') return 'settings';
  switch (ctx) {
    case 'board':
      if (k === 'j') return 'next-task';
      if (k === 'k') return 'prev-task';
      if (k === 'n') return 'new-task';
      if (k === '/') return 'search';
      return null;
    case 'gallery':
    case 'viewer': {
      const common: Record<string, Action> = {
        ArrowLeft: 'left',
        ArrowRight: 'right',
        ArrowUp: 'up',
        ArrowDown: 'down',
        a: 'approve',
        r: 'reject',
        f: 'flag',
        v: 'compare',
        j: 'next-task',
        k: 'prev-task',
      };
      if (ctx === 'gallery' && (k === ' ' || k === 'Enter')) return 'open';
      if (ctx === 'gallery' && k === 'h') return 'history';
      if (ctx === 'gallery' && k === 's') return 'scenes';
      if (ctx === 'viewer' && k === '1') return 'zoom-1to1';
      if (ctx === 'viewer' && k === '0') return 'zoom-fit';
      return common[k] ?? null;
    }
  }
  return null;
}

/**
 * Arrow movement in a grid of groups (one row of tiles per group, rows may wrap at `perRow`).
 * `groups` holds how many tiles each group has; index is a position over all tiles in order.
 */
export function moveInGroups(groups: readonly number[], perRow: number, index: number, action: Action): number {
  const total = groups.reduce((a, b) => a + b, 0);
  if (total === 0) return 0;
  if (action === 'left') return Math.max(0, index - 1);
  if (action === 'right') return Math.min(total - 1, index + 1);
  if (action !== 'up' && action !== 'down') return index;
  // Lay the tiles out as rows: each group starts a new row and wraps every perRow tiles.
  const rows: number[][] = [];
  let i = 0;
  for (const g of groups) {
    for (let start = 0; start < g; start += perRow) {
      const row: number[] = [];
      for (let j = start; j < Math.min(g, start + perRow); j++) row.push(i + j);
      rows.push(row);
    }
    i += g;
  }
  const r = rows.findIndex((row) => row.includes(index));
  const col = rows[r].indexOf(index);
  const nr = action === 'up' ? r - 1 : r + 1;
  if (nr < 0 || nr >= rows.length) return index;
  const target = rows[nr];
  return target[Math.min(col, target.length - 1)];
}
