// Browser end-to-end: what the web UI does in place of the desktop's shell (notifications), a
// decision the server never receives, New task, and how many fonts the board draws with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { browser, cli, fixture, getJson, makeEnv, openFromBoard, preflight, serve } from './harness.mjs';

test('browser notifications stand in for the desktop ones: asked for by a click, shown on review_ready, a click opens the gallery; the page follows the site settings', async (t) => {
  const f = await fixture('notify');
  t.after(() => f.close());
  const { page, context, server, env } = f;

  // The browser's prompt cannot be clicked from a test: the person accepting it is a grant made
  // when the page asks (through a binding the page's requestPermission calls first).
  await context.exposeBinding('__acceptPrompt', () => context.grantPermissions(['notifications'], { origin: server.url }));
  // Record every notification the page creates (the real constructor still runs).
  await context.addInitScript(() => {
    const Real = window.Notification;
    window.__notes = [];
    window.Notification = class extends Real {
      constructor(title, options) {
        super(title, options);
        window.__notes.push({ title, body: options?.body, tag: options?.tag, n: this });
      }
      static async requestPermission() {
        await window.__acceptPrompt();
        return Real.requestPermission();
      }
    };
  });
  await page.goto(server.url);
  await page.locator('[data-testid=stream-state]', { hasText: 'live' }).waitFor();
  // Not allowed yet: the status bar offers it (a browser prompts only from a click).
  const button = page.locator('[data-testid=enable-notifications]');
  await button.waitFor();
  await button.click();
  await button.waitFor({ state: 'detached' });

  // A new task runs through the server's worker to Assets Ready while the board is open.
  const created = JSON.parse(cli(env, ['task', 'add', '--title', 'Night market', '--json']));
  await page.waitForFunction(() => window.__notes.length > 0, null, { timeout: 120_000 });
  const notes = await page.evaluate(() => window.__notes.map(({ title, body, tag }) => ({ title, body, tag })));
  assert.deepEqual(notes.map((n) => n.title), ['Assets ready — Night market (22 images)']);
  assert.equal(notes[0].tag, `review-${created.id}`);
  assert.match(notes[0].body, /A approves/);

  // The creator clicks it: that task's gallery opens.
  await page.evaluate(() => window.__notes[0].n.dispatchEvent(new Event('click')));
  await page.waitForFunction((id) => document.body.dataset.galleryReady === id, created.id);
  assert.equal(await page.locator('[data-testid=tile]').count(), 22);

  // Allowed, then taken back in the browser's site settings: the page offers it again, without
  // a reload.
  await context.clearPermissions();
  await button.waitFor();
  assert.deepEqual(f.errors, []);
});

test('an approval the server never receives shows at once, then is undone with a clear message', async (t) => {
  const f = await fixture('offline');
  t.after(() => f.close());
  const { page, server } = f;
  const [id] = f.ids;

  await page.goto(server.url);
  await page.locator('[data-testid=stream-state]', { hasText: 'live' }).waitFor();
  await openFromBoard(page, id);
  await page.evaluate(() => {
    window.__seen = [];
    const el = document.querySelector('[data-testid=task-status]');
    new MutationObserver(() => window.__seen.push(el.dataset.status)).observe(el, { attributes: true, attributeFilter: ['data-status'] });
  });
  await server.stop();
  await page.keyboard.press('a');
  const toast = page.locator('[data-testid=toast]', { hasText: 'was not approved' });
  await toast.waitFor();
  assert.match(await toast.textContent(), /Cannot reach Review Desk/);
  // Shown as approved at once, then back at the gate; the creator is still on the task.
  await page.locator('[data-testid=task-status][data-status=assets_ready]').waitFor();
  const seen = await page.evaluate(() => window.__seen);
  assert.deepEqual(seen.slice(0, 2), ['assets_approved', 'assets_ready']);
  assert.equal(await page.evaluate(() => document.body.dataset.galleryReady), id);
  assert.ok(await page.locator('[data-testid=approve-all]').isEnabled());
  assert.deepEqual(f.errors, []);
});

test('New task from the board: the form creates a queued task the worker takes to Assets Ready; a bad plan file is refused in the form', async (t) => {
  const f = await fixture('new-task', { tasks: 0 });
  t.after(() => f.close());
  const { page, server } = f;

  await page.goto(server.url);
  await page.locator('[data-testid=stream-state]', { hasText: 'live' }).waitFor();
  await page.keyboard.press('n');
  const form = page.locator('[data-testid=new-task]');
  await form.waitFor();
  assert.ok(await page.locator('[data-testid=new-submit]').isDisabled(), 'a task needs a title');
  // The channel list comes from the server (list_channels).
  await page.waitForFunction(() => document.querySelector('[data-testid=new-channel]')?.options.length > 0);

  // A plan that is not YAML or JSON is refused before anything is sent.
  await page.locator('[data-testid=new-plan]').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
  assert.match(await page.locator('[data-testid=new-error]').textContent(), /not a plan/);
  await page.locator('[data-testid=new-plan]').setInputFiles([]);

  await page.locator('[data-testid=new-title]').fill('Otters at dusk');
  await page.locator('[data-testid=new-topic]').fill('how otters hold hands');
  await page.locator('[data-testid=new-story]').fill('gentle, for children');
  await page.locator('[data-testid=new-priority]').selectOption('high');
  const created = page.waitForResponse((r) => r.url().endsWith('/api/tasks') && r.request().method() === 'POST');
  await page.locator('[data-testid=new-submit]').click();
  const answer = await created;
  assert.equal(answer.status(), 201);
  const task = await answer.json();
  await form.waitFor({ state: 'detached' });

  // On the board at once, then at the gate once the worker has made its 22 images.
  await page.locator(`[data-testid=card][data-task-id="${task.id}"]`).waitFor();
  await page.locator(`[data-testid=card][data-task-id="${task.id}"][data-status=assets_ready]`).waitFor({ timeout: 60_000 });
  const detail = await getJson(`${server.url}/api/tasks/${task.id}`);
  assert.equal(detail.task.title, 'Otters at dusk');
  assert.equal(detail.task.topic, 'how otters hold hands');
  assert.equal(detail.task.story_direction, 'gentle, for children');
  assert.equal(detail.task.priority, 'high');
  assert.equal(detail.assets.length, 22);
  assert.equal(detail.history[0].source, 'browser', 'created through the browser');
  assert.deepEqual(f.errors, [], 'no uncaught page errors');
});

test('Help → Copy diagnostics shows the report (version, state, the log) ready to paste', async (t) => {
  const f = await fixture('diagnostics');
  t.after(() => f.close());
  const { page, context, server } = f;
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  await page.goto(server.url);
  await page.locator('[data-testid=stream-state]', { hasText: 'live' }).waitFor();
  await page.keyboard.press('?');
  await page.locator('[data-testid=copy-diagnostics]').click();
  const report = page.locator('[data-testid=diagnostics]');
  await report.waitFor();
  const text = await report.inputValue();
  assert.match(text, /^Review Desk \d+\.\d+\.\d+ \(linux/);
  assert.match(text, /Started: yes/);
  assert.match(text, /Worker: /);
  assert.match(text, /Media programs: ffmpeg/);
  await page.locator('[data-testid=diagnostics-said]', { hasText: 'Copied' }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), text);
  assert.deepEqual(f.errors, []);
});

test("Channels: the editor names a refused id at its field, adds a channel as a file the CLI accepts, and an edit keeps the file's comments", async (t) => {
  preflight();
  const env = makeEnv('channels');
  const channels = join(env.env.REVIEWDESK_CONFIG_DIR, 'channels');
  mkdirSync(channels, { recursive: true });
  const defaultFile = join(channels, 'default.yaml');
  writeFileSync(defaultFile, '# Our main channel.\nchannel_id: default\nchannel_name: Default  # shown on cards\n');
  const server = await serve(env);
  const b = await browser(env);
  t.after(async () => {
    await b.context.close().catch(() => {});
    await server.stop();
    if (!process.env.KEEP_TMP) rmSync(env.dir, { recursive: true, force: true });
  });
  const { page, errors } = b;
  await page.goto(server.url);
  await page.locator('[data-testid=channels-open]').click();
  const editor = page.locator('[data-testid=channel-editor]');
  await editor.waitFor();

  // A new channel with an id that cannot name files: refused at the id, nothing written.
  await editor.locator('[data-testid=channel-id]').fill('science daily!');
  await editor.locator('[data-testid=channel-name]').fill('Science Daily');
  await editor.locator('[data-testid=channel-save]').click();
  assert.match(await editor.locator('[data-testid=error-channel_id]').textContent(), /letters, digits and _/);
  assert.equal(await editor.locator('[data-testid=error-channel_name]').count(), 0, 'only the bad field is named');
  assert.deepEqual(readdirSync(channels), ['default.yaml']);

  await editor.locator('[data-testid=channel-id]').fill('science_daily');
  await editor.locator('[data-testid=channel-budget]').fill('25');
  await editor.locator('[data-testid=channel-save]').click();
  await editor.locator('[data-testid=channel-saved]', { hasText: 'Saved science_daily.' }).waitFor();
  const created = readFileSync(join(channels, 'science_daily.yaml'), 'utf8');
  assert.match(created, /^budget_daily_usd: 25$/m);
  // The file is one `reviewdesk` itself accepts.
  const task = JSON.parse(cli(env, ['task', 'add', '--title', 'On the new channel', '--channel', 'science_daily', '--draft', '--json']));
  assert.equal(task.channel_id, 'science_daily');

  // Editing the default channel changes its name's line only; the comments stay.
  await editor.locator('[data-testid=channel-pick]').selectOption('default');
  await page.waitForFunction(() => document.querySelector('[data-testid=channel-id]')?.value === 'default');
  await editor.locator('[data-testid=channel-name]').fill('Main: everyday videos');
  await editor.locator('[data-testid=channel-save]').click();
  await editor.locator('[data-testid=channel-saved]', { hasText: 'Saved default.' }).waitFor();
  const edited = readFileSync(defaultFile, 'utf8');
  assert.match(edited, /^# Our main channel\.$/m);
  assert.match(edited, /^channel_name: 'Main: everyday videos'  # shown on cards$/m);
  const listed = await getJson(`${server.url}/api/channels`);
  assert.ok(listed.some((c) => c.channel_id === 'default' && c.channel_name === 'Main: everyday videos'), JSON.stringify(listed));
  assert.deepEqual(errors, []);
});

test("the board's first view draws its text in six fonts at most: each more is one more font the desktop's web process sets up before its first paint", async (t) => {
  const f = await fixture('board-fonts', { tasks: 2, serveArgs: ['--no-worker'] });
  t.after(() => f.close());
  const { page, server } = f;
  await page.goto(server.url);
  await page.locator('[data-testid=card]').first().waitFor();
  const fonts = await page.evaluate(() => {
    const seen = new Set();
    for (const el of document.querySelectorAll('body *')) {
      if (![...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim())) continue;
      const s = getComputedStyle(el);
      // Upright vertical text takes a vertical font of its own; sideways text uses the horizontal one.
      const vertical = !s.writingMode.startsWith('horizontal') && s.textOrientation !== 'sideways';
      seen.add(`${s.fontFamily} ${s.fontSize} ${s.fontWeight} ${s.fontStyle} ${s.fontVariantNumeric}${vertical ? ' vertical' : ''}`);
    }
    return [...seen];
  });
  assert.ok(fonts.length <= 6, `the board uses ${fonts.length} fonts:\n${fonts.join('\n')}`);
});

test('the tab shows the app icon, and no page load asks the server for /favicon.ico', async (t) => {
  const f = await fixture('favicon', { tasks: 0, serveArgs: ['--no-worker'] });
  t.after(() => f.close());
  const { page, server } = f;
  await page.goto(server.url);
  await page.locator('[data-testid=board]').waitFor();
  // The browser fetches the tab's icon after the page's load (Playwright does not report that
  // request; the page's resource timing does): the app's icon, never /favicon.ico.
  const fetched = await page.waitForFunction(() =>
    performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname).find((p) => p.endsWith('.png') || p === '/favicon.ico'),
  );
  const path = await fetched.jsonValue();
  assert.equal(path, await page.locator('link[rel=icon]').getAttribute('href'));
  const icon = await fetch(new URL(path, server.url));
  assert.equal(icon.status, 200);
  assert.equal(icon.headers.get('content-type'), 'image/png');
  assert.match(icon.headers.get('cache-control') ?? '', /immutable/);
});
