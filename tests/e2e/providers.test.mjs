// Browser end-to-end: a channel on the Gemini double. A refused picture and one whose background
// could not be removed say so on their tiles; the creator rewords the refused prompt in the viewer
// and Retry makes only that asset; the board card shows what the task has cost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { browser, makeEnv, preflight, serve, startProviderDoubles, waitForStatus } from './harness.mjs';

test('Gemini: a refused asset shows the reason on its tile, the prompt is reworded in the viewer and Retry makes only it; a keying warning shows on its tile; the card shows the spend', async (t) => {
  preflight();
  const doubles = await startProviderDoubles();
  await doubles.trigger('gemini', 'refuse_prompts', 'villain');
  await doubles.trigger('gemini', 'busy_background', 'lantern');
  const env = makeEnv('providers');
  Object.assign(env.env, { GEMINI_API_KEY: 'gemini-double-key', GEMINI_BASE_URL: doubles.urls.gemini });
  mkdirSync(join(env.env.REVIEWDESK_CONFIG_DIR, 'channels'), { recursive: true });
  writeFileSync(
    join(env.env.REVIEWDESK_CONFIG_DIR, 'channels', 'default.yaml'),
    'channel_id: default\nchannel_name: Default\nsteps:\n  assets:\n    executor: gemini\n',
  );
  let server;
  let b;
  t.after(async () => {
    await b?.context.close().catch(() => {});
    await server?.stop();
    doubles.stop();
    if (!process.env.KEEP_TMP) rmSync(env.dir, { recursive: true, force: true });
  });
  server = await serve(env);
  const created = await fetch(`${server.url}/api/tasks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'How Volcanoes Work', topic: 'volcanoes' }),
  });
  const body = await created.text();
  assert.equal(created.status, 201, body);
  const { id } = JSON.parse(body);
  const failed = await waitForStatus(server.url, id, (s) => s === 'asset_error', 'the refused asset stops the step');
  assert.match(failed.task.error_log, /1 of 22 items could not be made/);
  assert.equal(failed.task.spent_usd, 0.819, '21 pictures at $0.039; the refusal is not charged');

  b = await browser(env);
  const { page, errors } = b;
  await page.goto(server.url);
  const card = page.locator(`[data-testid=card][data-task-id="${id}"]`);
  await card.waitFor();
  assert.equal(await card.locator('[data-testid=card-spent]').textContent(), '$0.82');

  await page.goto(`${server.url}/#/task/${id}`);
  const villain = page.locator('[data-testid=tile][data-name=villain]');
  await villain.locator('[data-testid=tile-refused]').waitFor();
  assert.match(await villain.locator('[data-testid=tile-refused]').textContent(), /Not made: .*refused the prompt.*SAFETY/);
  const lantern = page.locator('[data-testid=tile][data-name=lantern]');
  assert.match(await lantern.locator('[data-testid=tile-warning]').textContent(), /background not removed/);
  assert.equal(await page.locator('[data-testid=tile-warning]').count(), 1, 'only the lantern is warned about');

  // The viewer shows the prompt and why it was refused; the creator rewords it.
  await villain.locator('button.thumb').click();
  const viewer = page.locator('[data-testid=viewer]');
  await viewer.waitFor();
  assert.match(await viewer.locator('[data-testid=viewer-failure]').textContent(), /SAFETY/);
  assert.match(await viewer.locator('[data-testid=viewer-prompt]').textContent(), /villain character/);
  await viewer.locator('[data-testid=edit-prompt]').click();
  await viewer.locator('textarea').fill('Full-body stern antagonist in a grey cloak, for a video about volcanoes');
  const put = page.waitForResponse((r) => r.url().endsWith(`/api/tasks/${id}/assets/villain/prompt`) && r.request().method() === 'PUT');
  await viewer.getByRole('button', { name: 'Save prompt' }).click();
  assert.equal((await put).status(), 200);
  await viewer.locator('[data-testid=viewer-prompt]', { hasText: 'stern antagonist' }).waitFor();
  await page.keyboard.press('Escape');
  await viewer.waitFor({ state: 'detached' });

  await page.locator('[data-testid=retry]').click();
  const ready = await waitForStatus(server.url, id, (s) => s === 'assets_ready', 'the retry makes the villain');
  const byName = Object.fromEntries(ready.assets.map((a) => [a.name, a]));
  assert.equal(byName.villain.current_version, 1);
  assert.equal(byName.villain.failure, null);
  assert.equal(byName.lantern.current_version, 1, 'a kept asset is not made again');
  assert.equal(ready.task.spent_usd, 0.858, 'one more picture');
  await villain.locator('img').waitFor();
  assert.equal(await villain.locator('[data-testid=tile-refused]').count(), 0);
  assert.deepEqual(errors, []);
});
