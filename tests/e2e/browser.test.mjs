// Browser end-to-end: what the web UI does in place of the desktop's shell (notifications), and a
// decision the server never receives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cli, fixture, openFromBoard } from './harness.mjs';

test('browser notifications stand in for the desktop ones: asked for by a click, shown on review_ready, a click opens the gallery', async (t) => {
  const f = await fixture('notify');
  t.after(() => f.close());
  const { page, context, server, env } = f;

  // Record every notification the page creates (the real constructor still runs).
  await context.addInitScript(() => {
    const Real = window.Notification;
    window.__notes = [];
    window.Notification = class extends Real {
      constructor(title, options) {
        super(title, options);
        window.__notes.push({ title, body: options?.body, tag: options?.tag, n: this });
      }
    };
  });
  await page.goto(server.url);
  await page.locator('[data-testid=stream-state]', { hasText: 'live' }).waitFor();
  // Not allowed yet: the status bar offers it (a browser prompts only from a click).
  const button = page.locator('[data-testid=enable-notifications]');
  await button.waitFor();
  await context.grantPermissions(['notifications'], { origin: server.url });
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
