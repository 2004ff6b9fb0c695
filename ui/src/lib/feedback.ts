// Rejection feedback pre-filled from the flagged assets.
import type { AssetDetail } from './bindings/AssetDetail';

export function flaggedAssets(assets: readonly AssetDetail[]): AssetDetail[] {
  return assets.filter((a) => a.flagged);
}

/**
 * The text the reject box opens with: the flagged names (with their notes), ready for the creator
 * to add what should change. Empty when nothing is flagged (feedback is still required).
 */
export function prefillFeedback(assets: readonly AssetDetail[]): string {
  const flagged = flaggedAssets(assets);
  if (flagged.length === 0) return '';
  const parts = flagged.map((a) => (a.flag_note?.trim() ? `${a.name} (${a.flag_note.trim()})` : a.name));
  return `Regenerate ${parts.join(', ')}: `;
}

/** Feedback is required: not blank. */
export function feedbackValid(text: string): boolean {
  return text.trim().length > 0;
}
