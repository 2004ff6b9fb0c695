// The Debian package `make deb` builds: its control data and lintian's verdict, then the package
// unpacked into a scratch root (as dpkg would install it) and the installed app started under Xvfb
// until its board paints and its tray item is on the session bus.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root } from '../e2e/harness.mjs';
import { appPid, desktopEnv, launch } from './harness.mjs';

const ICON_SIZES = [16, 24, 32, 48, 64, 128, 256, 512];

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300_000, ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  return r;
}

function theDeb() {
  const dir = join(root, 'target/debian');
  const debs = existsSync(dir) ? readdirSync(dir).filter((n) => /^reviewdesk_.*\.deb$/.test(n)) : [];
  if (debs.length !== 1) throw new Error(`expected one package in ${dir} (run \`make deb\`), found ${debs.length}`);
  return join(dir, debs[0]);
}

/** `gdbus call` on the session bus's own service; returns its printed answer. */
function busCall(method, ...args) {
  const r = run('gdbus', ['call', '--session', '--dest', 'org.freedesktop.DBus', '--object-path', '/org/freedesktop/DBus',
    '--method', `org.freedesktop.DBus.${method}`, ...args]);
  if (r.status !== 0) throw new Error(`gdbus ${method}: ${r.stderr}`);
  return r.stdout;
}

/** Whether process `pid` has a StatusNotifierItem (the tray icon of libayatana-appindicator) on the session bus. */
function hasTrayItem(pid) {
  const names = [...busCall('ListNames').matchAll(/'(:[0-9.]+)'/g)].map((m) => m[1]);
  for (const name of names) {
    let owner;
    try {
      owner = Number(/uint32 (\d+)/.exec(busCall('GetConnectionUnixProcessID', name))?.[1]);
    } catch {
      continue; // the connection went away meanwhile
    }
    if (owner !== pid) continue;
    const tree = run('gdbus', ['introspect', '--session', '--dest', name, '--object-path', '/', '--recurse']);
    if (tree.status === 0 && tree.stdout.includes('org.kde.StatusNotifierItem')) return true;
  }
  return false;
}

test('the Debian package lists its dependencies, passes lintian, and the installed app paints its board and shows its tray', async (t) => {
  const deb = theDeb();
  const info = run('dpkg-deb', ['-I', deb]);
  assert.equal(info.status, 0, info.stderr);
  const depends = /^ Depends: (.*)$/m.exec(info.stdout)?.[1] ?? '';
  for (const dep of ['libwebkit2gtk-4.1-0', 'libgtk-3-0', 'libayatana-appindicator3-1', 'ffmpeg', 'espeak-ng']) {
    assert.ok(depends.includes(dep), `Depends names ${dep}: ${depends}`);
  }
  const contents = run('dpkg-deb', ['-c', deb]).stdout;
  for (const path of [
    './usr/bin/reviewdesk-desktop',
    './usr/bin/reviewdesk',
    './usr/share/applications/reviewdesk.desktop',
    './usr/share/doc/reviewdesk/copyright',
    ...ICON_SIZES.map((s) => `./usr/share/icons/hicolor/${s}x${s}/apps/reviewdesk.png`),
  ]) {
    assert.ok(contents.includes(path), `the package carries ${path}`);
  }
  const lint = run('lintian', ['--fail-on', 'error', deb]);
  assert.equal(lint.status, 0, `lintian reports errors:\n${lint.stdout}${lint.stderr}`);

  // Installed into a scratch root: nothing from the source tree is used from here on.
  const scratch = mkdtempSync(join(tmpdir(), 'reviewdesk-deb-'));
  t.after(() => rmSync(scratch, { recursive: true, force: true }));
  const unpacked = run('dpkg-deb', ['-x', deb, scratch]);
  assert.equal(unpacked.status, 0, unpacked.stderr);
  const env = desktopEnv('desktop-deb');
  delete env.env.REVIEWDESK_UI_DIR; // the installed binaries carry their UI
  const demo = run(join(scratch, 'usr/bin/reviewdesk'), ['demo'], { env: env.env });
  assert.equal(demo.status, 0, `the installed CLI makes a sample task: ${demo.stderr}`);

  const installed = join(scratch, 'usr/bin/reviewdesk-desktop');
  const d = await launch(env, installed);
  t.after(() => d.close());
  const { app } = d;
  const card = await app.$('[data-testid=card]');
  await card.waitForExist({ timeout: 30_000, timeoutMsg: 'the installed app painted no board' });
  assert.equal(await card.getAttribute('data-status'), 'assets_ready');
  const pid = appPid(env, installed);
  await app.waitUntil(async () => hasTrayItem(pid), { timeout: 20_000, interval: 200, timeoutMsg: 'no tray item on the session bus' });
});
