// The channel editor's form: what it checks before sending (the server checks again and has the
// last word), and which field a server error names.
import type { ChannelForm } from './bindings/ChannelForm';

export type ChannelField = Exclude<keyof ChannelForm, 'original_id'>;
export type ChannelErrors = Partial<Record<ChannelField, string>>;

export const CHANNEL_ID_RULE = /^[A-Za-z0-9_]{1,100}$/;

/** A new channel's starting values. */
export function emptyChannel(): ChannelForm {
  return {
    channel_id: '',
    channel_name: '',
    max_concurrent: 2,
    storage_strategy: 'none',
    budget_daily_usd: null,
    narration_voice: 'en-us',
    is_active: true,
  };
}

/** What is wrong with each field, in words to act on. */
export function channelErrors(f: ChannelForm): ChannelErrors {
  const e: ChannelErrors = {};
  if (!CHANNEL_ID_RULE.test(f.channel_id.trim())) {
    e.channel_id = 'Use letters, digits and _ only (it names the channel’s files and folders).';
  }
  if (!f.channel_name.trim()) e.channel_name = 'Enter a name.';
  if (!Number.isInteger(f.max_concurrent) || f.max_concurrent < 1 || f.max_concurrent > 10) {
    e.max_concurrent = 'Between 1 and 10 tasks at once.';
  }
  if (f.budget_daily_usd != null && (Number.isNaN(f.budget_daily_usd) || f.budget_daily_usd < 0)) {
    e.budget_daily_usd = 'Zero or more dollars, or empty for no limit.';
  }
  if (!/^[A-Za-z0-9_+/-]+$/.test(f.narration_voice.trim())) {
    e.narration_voice = 'An espeak-ng voice such as en-us (`espeak-ng --voices` lists them).';
  }
  return e;
}

const FIELDS: ChannelField[] = [
  'channel_id',
  'channel_name',
  'max_concurrent',
  'storage_strategy',
  'budget_daily_usd',
  'narration_voice',
  'is_active',
];

/** The field a server error names (`invalid channel_id: …`), if it is one of the form's. */
export function errorField(message: string): ChannelField | null {
  const m = /^invalid ([a-z_]+): /.exec(message);
  const f = m?.[1] as ChannelField | undefined;
  return f && FIELDS.includes(f) ? f : null;
}
