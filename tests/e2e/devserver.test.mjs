// `npm run dev` in ui/: Vite's dev server proxies /api and /files to a running `reviewdesk serve`.
// The server refuses foreign Host and Origin headers (DNS rebinding, CSRF), so this checks that the
// proxy's rewriting keeps the board, the thumbnails, the event stream and a decision working.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { browser, demo, getJson, makeEnv, openFromBoard, preflight, root, serve } from './harness.mjs';

test('the vite dev server proxies the API, the files and the event stream to reviewdesk serve', async (t) => {
  preflight();
  const env = makeEnv('vite');
  const [id, other] = [demo(env), demo(env)];
  const server = await serve(env);
  let vite = null;
  let b = null;
  // One hook, in order: the browser, the dev server, reviewdesk, then the files.
  t.after(async () => {
    await b?.context.close().catch(() => {});
    await vite?.close();
    await server.stop();
    if (!process.env.KEEP_TMP) rmSync(env.dir, { recursive: true, force: true });
  });

  // vite.config.ts reads REVIEWDESK_URL when it loads.
  process.env.REVIEWDESK_URL = server.url;
  const { createServer } = await import(pathToFileURL(join(root, 'ui/node_modules/vite/dist/node/index.js')).href);
  vite = await createServer({
    root: join(root, 'ui'),
    configFile: join(root, 'ui/vite.config.ts'),
    logLevel: 'silent',
    server: { host: '127.0.0.1', port: 0, strictPort: false },
  });
  await vite.listen();
  const devUrl = vite.resolvedUrls.local[0].replace(/\/$/, '');
  assert.notEqual(new URL(devUrl).port, new URL(server.url).port);

  b = await browser(env);
  const { page } = b;
  await page.goto(devUrl);
  // The event stream through the proxy.
  await page.locator('[data-testid=stream-state]', { hasText: 'live' }).waitFor({ timeout: 60_000 });
  // The task list through the proxy, then 22 thumbnails through /files.
  await openFromBoard(page, id);
  const widths = await page.$$eval('[data-testid=tile] img', (imgs) => imgs.map((i) => i.naturalWidth));
  assert.equal(widths.length, 22);
  assert.ok(widths.every((w) => w > 0), `every thumbnail decoded: ${widths}`);

  // A decision (a JSON POST, Origin checked by the server) through the proxy.
  await page.keyboard.press('a');
  await page.locator('[data-testid=toast]', { hasText: 'Approved' }).waitFor();
  const detail = await getJson(`${server.url}/api/tasks/${id}`);
  assert.notEqual(detail.task.status, 'assets_ready');
  assert.ok(detail.audit.some((a) => a.decision === 'approve' && a.source === 'browser'));
  // Auto-advance opened the other task, also over the proxy.
  await page.waitForFunction((tid) => document.body.dataset.galleryReady === tid, other);
  assert.deepEqual(b.errors, []);
});
