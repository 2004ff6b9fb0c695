import { describe, expect, it } from 'vitest';
import type { SettingsView } from './bindings/SettingsView';
import type { NotionChannelCheck } from './bindings/NotionChannelCheck';
import type { NotionCheckReport } from './bindings/NotionCheckReport';
import type { NotionFinding } from './bindings/NotionFinding';
import {
  CHECK_CLEAN,
  checkGroups,
  checkSummary,
  formFromView,
  hasErrors,
  isAbsolutePath,
  isUnchanged,
  keyLabel,
  keySourceText,
  pathError,
  pollError,
  providerGroups,
  toUpdate,
  tokenSourceText,
  validate,
} from './settings';

const view: SettingsView = {
  workspace: '/home/ana/ReviewDesk',
  config_dir: '/home/ana/.config/reviewdesk',
  notion_poll_secs: 30,
  notion_token: 'keyring',
  provider_keys: [
    { name: 'gemini-api-key', env_var: 'GEMINI_API_KEY', source: 'keyring' },
    { name: 'kling-access-key', env_var: 'KLING_ACCESS_KEY', source: 'environment' },
    { name: 'kling-secret-key', env_var: 'KLING_SECRET_KEY', source: 'environment' },
    { name: 'kling-api-key', env_var: 'KLING_API_KEY', source: 'none' },
    { name: 'elevenlabs-api-key', env_var: 'ELEVENLABS_API_KEY', source: 'none' },
  ],
  autostart: false,
  settings_file: '/home/ana/.config/reviewdesk/settings.toml',
  restart_required: false,
};

describe('settings form', () => {
  it('accepts poll intervals from 5 to 600 whole seconds', () => {
    for (const ok of [5, 30, 600]) expect(pollError(ok)).toBeNull();
    for (const bad of [4, 0, -1, 601, 10_000]) {
      expect(pollError(bad)).toBe(`The poll interval must be between 5 and 600 seconds (got ${bad}).`);
    }
    expect(pollError(7.5)).toBe('The poll interval must be between 5 and 600 seconds (got 7.5).');
    expect(pollError(null)).toBe('Enter the poll interval in seconds (5–600).');
    expect(pollError(Number.NaN)).toBe('Enter the poll interval in seconds (5–600).');
  });

  it('wants absolute folders, or empty for the default', () => {
    for (const p of ['/home/ana/w', '/', 'C:\\Users\\ana', 'd:/work', '\\\\nas\\share\\w']) expect(isAbsolutePath(p)).toBe(true);
    for (const p of ['', 'work', './work', '~/work', 'C:work', '..\\w']) expect(isAbsolutePath(p)).toBe(false);
    expect(pathError('workspace folder', '  ')).toBeNull();
    expect(pathError('workspace folder', ' /ws ')).toBeNull();
    expect(pathError('workspace folder', ' ws ')).toBe(
      'The workspace folder must be a full path starting at the root (like /home/you/reviewdesk), not "ws".',
    );
  });

  it('validates every field', () => {
    expect(validate(formFromView(view))).toEqual({});
    expect(validate({ workspace: '', config_dir: '', notion_poll_secs: 5 })).toEqual({});
    const errors = validate({ workspace: 'rel', config_dir: '~/cfg', notion_poll_secs: 1 });
    expect(Object.keys(errors).sort()).toEqual(['config_dir', 'notion_poll_secs', 'workspace']);
    expect(errors.config_dir).toMatch(/^The channel files folder must be a full path/);
    expect(hasErrors(errors)).toBe(true);
    expect(hasErrors({})).toBe(false);
  });

  it('sends only what changed, trimmed', () => {
    expect(isUnchanged(toUpdate(formFromView(view), view))).toBe(true);
    expect(toUpdate({ ...formFromView(view), workspace: ' /data/rd ', notion_poll_secs: 60 }, view)).toEqual({
      workspace: '/data/rd',
      config_dir: null,
      notion_poll_secs: 60,
    });
    expect(toUpdate({ ...formFromView(view), config_dir: `${view.config_dir} ` }, view).config_dir).toBeNull();
    // Emptied: back to the default folder.
    expect(toUpdate({ ...formFromView(view), workspace: '  ' }, view).workspace).toBe('');
  });

  it('says where the token comes from', () => {
    expect(tokenSourceText('keyring')).toBe('Stored in the OS keyring');
    expect(tokenSourceText('environment')).toBe('From the NOTION_TOKEN environment variable');
    expect(tokenSourceText('none')).toBe('Not set');
  });
});

describe('check connection report', () => {
  const db = (database: string, findings: NotionFinding[] = [], added: string[] = []) => ({ database, findings, added });
  const report = (channels: NotionChannelCheck[]): NotionCheckReport => {
    const all = channels.flatMap((c) => c.databases.flatMap((d) => d.findings));
    return { ok: all.length === 0, fixable: all.some((f) => f.fixable), channels };
  };
  const missing = { message: 'property "Retry Status" is missing: add it in Notion as type rich_text', fixable: true };
  const retyped = { message: 'property "Notes" is of type number but must be rich_text: change its type in Notion', fixable: false };

  it('says all is well when nothing is wrong', () => {
    const r = report([{ channel_id: 'news', channel_name: 'News', databases: [db('Tasks'), db('Assets')] }]);
    expect(checkSummary(r)).toBe(CHECK_CLEAN);
    expect(checkGroups(r)).toEqual([]);
  });

  it('groups findings by channel and database, leaving out the clean ones', () => {
    const r = report([
      { channel_id: 'news', channel_name: 'News', databases: [db('Tasks', [missing]), db('Assets', [retyped]), db('Videos')] },
      { channel_id: 'kids', channel_name: 'kids', databases: [db('Tasks'), db('Audio')] },
    ]);
    expect(checkGroups(r)).toEqual([
      { channel: 'News (news)', databases: [db('Tasks', [missing]), db('Assets', [retyped])] },
    ]);
    expect(checkSummary(r)).toBe('2 problems found; Review Desk can add 1, the rest must be fixed in Notion.');
  });

  it('counts what can be added and what was added', () => {
    const fixable = report([{ channel_id: 'news', channel_name: 'News', databases: [db('Tasks', [missing])] }]);
    expect(checkSummary(fixable)).toBe('1 problem found; Review Desk can add all of them.');
    const onlyRetype = report([{ channel_id: 'news', channel_name: '', databases: [db('Assets', [retyped])] }]);
    expect(checkSummary(onlyRetype)).toBe('1 problem found; fix them in Notion as named below.');
    expect(checkGroups(onlyRetype)[0].channel).toBe('news');
    const fixed = report([
      { channel_id: 'news', channel_name: 'News', databases: [db('Tasks', [], ['added property "Retry Status" (type rich_text)'])] },
    ]);
    expect(checkSummary(fixed)).toBe(`Added 1 missing item. ${CHECK_CLEAN}`);
    expect(checkGroups(fixed)[0].databases[0].added).toHaveLength(1);
  });
});

describe('provider keys', () => {
  it('groups each key under its provider, in the order Settings shows them', () => {
    const groups = providerGroups(view.provider_keys);
    expect(groups.map((g) => g.provider)).toEqual(['gemini', 'kling', 'elevenlabs']);
    expect(groups[1].keys.map((k) => k.name)).toEqual(['kling-access-key', 'kling-secret-key', 'kling-api-key']);
    expect(groups[0].keys).toHaveLength(1);
    expect(groups[2].keys[0].env_var).toBe('ELEVENLABS_API_KEY');
  });

  it('names each field and where its key comes from', () => {
    expect(keyLabel('kling-access-key')).toBe('Access key');
    expect(keyLabel('kling-secret-key')).toBe('Secret key');
    expect(keyLabel('kling-api-key')).toMatch(/instead of the access and secret keys/);
    expect(keyLabel('gemini-api-key')).toBe('API key');
    expect(keySourceText('environment', 'KLING_ACCESS_KEY')).toBe('From the KLING_ACCESS_KEY environment variable');
    expect(keySourceText('keyring', 'GEMINI_API_KEY')).toBe('Stored in the OS keyring');
    expect(keySourceText('none', 'GEMINI_API_KEY')).toBe('Not set');
  });
});
