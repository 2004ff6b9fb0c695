// Money on screen: what a task has cost and what approving at its gate starts.
import type { ChannelToday } from './bindings/ChannelToday';
import type { CostEstimate } from './bindings/CostEstimate';
import type { Step } from './bindings/Step';

/** Dollars as the CLI shows them: cents from a cent up (`$7.56`), small amounts with their own digits (`$0.0033`). */
export function usd(dollars: number): string {
  const micro = Math.round(Math.abs(dollars) * 1_000_000);
  const sign = dollars < 0 && micro > 0 ? '-' : '';
  if (micro === 0 || micro >= 10_000) {
    const cents = Math.round(micro / 10_000);
    return `${sign}$${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
  }
  return `${sign}$0.${String(micro).padStart(6, '0').replace(/0+$/, '')}`;
}

const NOUNS: Partial<Record<Step, [string, string]>> = {
  assets: ['picture', 'pictures'],
  video: ['clip', 'clips'],
  audio: ['narration', 'narrations'],
  sfx: ['sound effect', 'sound effects'],
};

/** "18 clips with kling-v2-5-turbo std, about $7.56", or null when approving starts nothing paid. */
export function approveCostLabel(e: CostEstimate | null | undefined): string | null {
  if (!e || e.items <= 0) return null;
  const [one, many] = NOUNS[e.step] ?? ['item', 'items'];
  return `${e.items} ${e.items === 1 ? one : many} with ${e.model}, about ${usd(e.usd)}`;
}

/** The status bar's spend of one channel today: its text, and a tone (near or at its budget). */
export function spendLabel(c: ChannelToday): { text: string; tone: '' | 'warn' | 'error' } {
  const committed = c.spent_usd + c.held_usd;
  const held = c.held_usd > 0 ? ` (+${usd(c.held_usd)} under way)` : '';
  if (c.budget_usd == null) return { text: `${c.channel_id}: ${usd(c.spent_usd)} today${held}`, tone: '' };
  const tone = committed >= c.budget_usd ? 'error' : committed >= 0.8 * c.budget_usd ? 'warn' : '';
  return { text: `${c.channel_id}: ${usd(c.spent_usd)} of ${usd(c.budget_usd)} today${held}`, tone };
}
