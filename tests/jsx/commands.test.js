'use strict';
// Settings, job folders, aefarm's copy of the project, the argv of every aefarm command (run against the real
// CLI from this worktree's venv), and the launch/cancel lines for both OS families.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { loadLib, plain } = require('./helpers/load');
const fake = require('./helpers/fake_ae');
const { AEFARM, requireVenv, tempDir, writeQueueProject } = require('./helpers/aefarm');

const L = loadLib();

function item(index, compName, output, frameSpec = '1-10') {
  return { index, compName, frameSpec, outputs: [{ index: 1, path: output }], error: '' };
}

test('settings: defaults, merge of stored strings, unknown keys and bad choices dropped', () => {
  const merged = plain(L.mergeSettings({ aefarmPath: '/opt/aefarm/bin/aefarm', target: 'nuke', grouping: 'perItem',
    bogus: 'x', deadlineAction: 'weird', accsynBucketSize: 5 }));
  assert.equal(merged.aefarmPath, '/opt/aefarm/bin/aefarm');
  assert.equal(merged.target, 'local');
  assert.equal(merged.grouping, 'perItem');
  assert.equal(merged.deadlineAction, 'submit');
  assert.equal(merged.accsynBucketSize, '5');
  assert.equal(merged.bogus, undefined);
  assert.deepEqual(Object.keys(merged).sort(), Object.keys(plain(L.DEFAULT_SETTINGS)).sort());
});

test('settings: app.settings round trip, every value a string', () => {
  const app = fake.makeApp(new fake.Project({}));
  const L2 = loadLib(fake.aeGlobals({ app, system: fake.makeSystem() }));
  const s = L2.loadSettings(app.settings);
  assert.equal(s.aefarmPath, 'aefarm');
  s.concurrency = '3';
  s.target = 'deadline';
  s.lastRun = '/jobs/x/run.json';
  L2.saveSettings(app.settings, s);
  assert.equal(app.settings.getSetting('aefarm panel', 'concurrency'), '3');
  const again = plain(L2.loadSettings(app.settings));
  assert.deepEqual([again.concurrency, again.target, again.lastRun], ['3', 'deadline', '/jobs/x/run.json']);
});

test('settings checks: numbers, priority range, engine, aefarm path', () => {
  const bad = L.mergeSettings({ aefarmPath: ' ', concurrency: '0', accsynBucketSize: 'ten', accsynEngine: '',
    deadlineChunkSize: '-1', deadlinePriority: '101' });
  const msgs = (t) => plain(L.checkSettings(bad, t)).map((p) => p.message);
  assert.deepEqual(msgs('local'), ['set where aefarm is (Settings)', 'concurrency must be a whole number above 0, not "0"']);
  assert.deepEqual(msgs('accsyn').slice(1), ['accsyn bucket size must be a whole number above 0, not "ten"',
    'set the accsyn engine (app) name (Settings)']);
  assert.deepEqual(msgs('deadline').slice(1), ['Deadline chunk size must be a whole number above 0, not "-1"',
    'Deadline priority must be 0-100, not "101"']);
  assert.deepEqual(plain(L.checkSettings(L.mergeSettings({}), 'deadline')), []);
});

test('job folder layout on both OS families; the copy keeps .aep only for local renders', () => {
  const date = new Date(2026, 0, 30, 9, 45, 1);
  const posix = plain(L.jobLayout('posix', '', '/Volumes/show/shot 010 (v2).aep', date, 'accsyn'));
  assert.equal(posix.dir, '/Volumes/show/aefarm-jobs/shot_010_v2_-20260130-094501-accsyn');
  assert.equal(posix.project, `${posix.dir}/shot_010_v2_.aepx`);
  assert.equal(posix.script, `${posix.dir}/run.sh`);
  const win = plain(L.jobLayout('windows', 'D:\\farm jobs', 'P:\\show\\shot.aep', date, 'local'));
  assert.equal(win.dir, 'D:\\farm jobs\\shot-20260130-094501-local');
  assert.equal(win.project, 'D:\\farm jobs\\shot-20260130-094501-local\\shot.aep');
  assert.equal(win.script, `${win.dir}\\run.cmd`);
  assert.deepEqual(plain(L.itemFiles(win, 3)), { name: 'rq03', log: `${win.dir}\\rq03.log`,
    report: `${win.dir}\\rq03.report.json`, rc: `${win.dir}\\rq03.rc`, pid: `${win.dir}\\rq03.pid` });
});

test('snapshot plan: copy an .aepx or a local .aep; save-as-.aepx-and-reopen only for a farm .aep', () => {
  const layout = (t, p) => L.jobLayout('posix', '/jobs', p, new Date(0), t);
  assert.equal(L.snapshotPlan('/p/a.aepx', layout('accsyn', '/p/a.aepx'), 'accsyn').method, 'copy');
  assert.equal(L.snapshotPlan('/p/a.aep', layout('local', '/p/a.aep'), 'local').method, 'copy');
  const farm = plain(L.snapshotPlan('/p/a.aep', layout('deadline', '/p/a.aep'), 'deadline'));
  assert.equal(farm.method, 'saveAsReopen');
  assert.match(farm.dest, /\.aepx$/);
  assert.throws(() => L.snapshotPlan('/p/a.aet', layout('local', '/p/a.aet'), 'local'), (e) => e.aefarm);
});

test('snapshot: save-as moves the open project to the copy, the panel reopens the artist\'s file', () => {
  const dir = tempDir('aefarm-snap-');
  const original = path.join(dir, 'shot.aep');
  fs.writeFileSync(original, 'RIFX binary project');
  const project = new fake.Project({ file: original, dirty: false });
  const app = fake.makeApp(project);
  const L2 = loadLib(fake.aeGlobals({ app, system: fake.makeSystem() }));
  const dest = path.join(dir, 'copy.aepx');
  L2.makeSnapshot(app, L2.fileIO(), { method: 'saveAsReopen', source: original, dest });
  assert.deepEqual(project.saves, [dest]);
  assert.deepEqual(app.opened, [original]);
  assert.equal(app.project.file.fsName, original);
  assert.equal(fs.readFileSync(original, 'utf8'), 'RIFX binary project'); // the artist's file is untouched

  const stuck = fake.makeApp(new fake.Project({ file: original, dirty: false }), { openFails: true });
  const L3 = loadLib(fake.aeGlobals({ app: stuck, system: fake.makeSystem() }));
  assert.throws(() => L3.makeSnapshot(stuck, L3.fileIO(), { method: 'saveAsReopen', source: original,
    dest: path.join(dir, 'c2.aepx') }), (e) => e.aefarm && e.message.includes(`the open project is now ${path.join(dir, 'c2.aepx')}`));

  L2.makeSnapshot(app, L2.fileIO(), { method: 'copy', source: original, dest: path.join(dir, 'c3.aep') });
  assert.equal(fs.readFileSync(path.join(dir, 'c3.aep'), 'utf8'), 'RIFX binary project');
});

test('argv: render, accsyn submit, deadline submit/bundle, frames, fonts', () => {
  const settings = L.mergeSettings({ aefarmPath: '/venv/bin/aefarm', concurrency: '3', aerenderPath: '/ae/aerender',
    accsynFilters: 'ram:>32g', accsynBucketSize: '5', accsynShares: '/cfg/shares.json', deadlineChunkSize: '4',
    deadlinePriority: '70' });
  const layout = L.jobLayout('posix', '/jobs', '/p/shot.aepx', new Date(2026, 0, 1, 0, 0, 0), 'local');
  const it = item(2, 'Tï\'tle "$x"', '/out/my dir/T_[####].png', '1-10x2');
  assert.deepEqual(plain(L.renderArgv(settings, layout, it)), ['/venv/bin/aefarm', 'render', layout.project,
    '--rqindex', '2', '--output', '/out/my dir/T_[####].png', '--frames', '1-10x2', '--report',
    `${layout.dir}/rq02.report.json`, '--log-dir', `${layout.dir}/logs/rq02`, '--progress', 'log',
    '--concurrency', '3', '--aerender', '/ae/aerender']);
  assert.deepEqual(plain(L.accsynArgv(settings, layout, it, true)), ['/venv/bin/aefarm', 'accsyn', 'submit',
    layout.project, '--rqindex', '2', '--frames', '1-10x2', '--output', '/out/my dir/T_[####].png', '--engine',
    'aftereffects', '--name', 'shot Tï\'tle "$x" 1-10x2', '--filters', 'ram:>32g', '--bucket-size', '5', '--shares',
    '/cfg/shares.json', '--dry-run']);
  assert.deepEqual(plain(L.deadlineArgv(settings, layout, item(1, 'A', '/out/a.mov'), 'submit', true)),
    ['/venv/bin/aefarm', 'deadline', 'submit', layout.project, '--rqindex', '1', '--frames', '1-10', '--output-dir',
      '/out', '--pattern', 'a.mov', '-o', `${layout.dir}/bundle-rq01`, '--force', '--video', '--fonts',
      `${layout.dir}/fonts`, '--chunk-size', '4', '--priority', '70', '--deadline-arg=--yes']);
  assert.deepEqual(plain(L.framesArgv(settings, '1-10 20')), ['/venv/bin/aefarm', 'frames', '1-10 20', '--format', 'json']);
  assert.deepEqual(plain(L.fontsArgv(settings, layout)), ['/venv/bin/aefarm', 'fonts', 'collect', '--from',
    layout.fontsList, '-o', layout.fontsDir]);
});

// ------------------------------------------------------------------------------------------------ real CLI
function realContext(dir, extra = {}) {
  requireVenv();
  const system = fake.makeSystem();
  const app = fake.makeApp(new fake.Project({}));
  const L2 = loadLib(fake.aeGlobals({ app, system }));
  const settings = L2.mergeSettings({ aefarmPath: AEFARM, ...extra });
  return { L2, ctx: { os: 'posix', io: L2.fileIO(), callSystem: system.callSystem, settings, tempDir: dir } };
}

test('the real aefarm accepts the panel\'s argv: accsyn --dry-run, deadline bundle, fonts collect', () => {
  const dir = tempDir('aefarm-cli-');
  const { L2, ctx } = realContext(dir, { accsynBucketSize: '3', deadlineChunkSize: '2' });
  const layout = L2.jobLayout('posix', dir, path.join(dir, 'shot.aepx'), new Date(), 'accsyn');
  fs.mkdirSync(layout.dir, { recursive: true });
  writeQueueProject(layout.project, ['Main', 'Tï\'tle "$x" & 100%']);
  const it = item(2, 'Tï\'tle "$x" & 100%', path.join(dir, 'out dir', 'T_[####].png'), '1-9x2, 20');

  const accsyn = L2.runStep(ctx, layout.dir, 'accsyn', L2.accsynArgv(ctx.settings, layout, it, true));
  assert.equal(accsyn.ok, true, accsyn.message);
  const payload = JSON.parse(accsyn.out);
  assert.equal(payload.name, 'shot Tï\'tle "$x" & 100% 1-9x2, 20');
  assert.equal(payload.range, '1-9x2,20');
  assert.equal(payload.parameters.rqindex, 2);
  assert.equal(payload.settings.task_bucketsize, 3);

  const bundle = L2.runStep(ctx, layout.dir, 'bundle', L2.deadlineArgv(ctx.settings, layout, it, 'bundle', false));
  assert.equal(bundle.ok, true, bundle.message);
  assert.ok(fs.existsSync(path.join(L2.bundleDir(layout, it), 'template.yaml')));
  const values = fs.readFileSync(path.join(L2.bundleDir(layout, it), 'parameter_values.yaml'), 'utf8');
  assert.match(values, /T_\[####\]\.png/);

  fs.writeFileSync(layout.fontsList, JSON.stringify(['DejaVuSans']));
  const fonts = L2.runStep(ctx, layout.dir, 'fonts', L2.fontsArgv(ctx.settings, layout));
  assert.equal(fonts.ok, true, fonts.message);
  assert.ok(fs.readdirSync(layout.fontsDir).some((f) => /^DejaVuSans\./.test(f)));
});

test('frame specs are checked by aefarm frames; its one-line error and exit code reach the panel', () => {
  const dir = tempDir('aefarm-frames-');
  const { L2, ctx } = realContext(dir);
  const good = plain(L2.checkFrames(ctx, dir, '1-100x5, 200'));
  assert.deepEqual([good.ok, good.count, good.first, good.last, good.spec], [true, 21, 1, 200, '1-96x5,200']);
  const bad = plain(L2.checkFrames(ctx, dir, '1-x'));
  assert.equal(bad.ok, false);
  assert.match(bad.message, /^aefarm: error: bad frame spec '1-x': .* \(exit 2\)$/);
});

test('a missing aefarm is named with the way to fix it', () => {
  const dir = tempDir('aefarm-missing-');
  const { L2, ctx } = realContext(dir, { aefarmPath: 'aefarm-not-installed-here' });
  const r = plain(L2.checkFrames(ctx, dir, '1-10'));
  assert.equal(r.ok, false);
  assert.match(r.message, /^aefarm-not-installed-here was not found: install aefarm or set its path in Settings .*\(exit 127\)$/);
});

// ------------------------------------------------------------------------------------------------ scripts
test('launch, alive and cancel lines: POSIX signals, Windows PowerShell/taskkill; pids validated', () => {
  const layout = L.jobLayout('posix', '/jobs', '/p/it\'s.aepx', new Date(0), 'local');
  assert.equal(L.launchCommand('posix', layout), `nohup /bin/sh ${layout.dir}/run.sh </dev/null >${layout.dir}/driver.log 2>&1 & echo $!`);
  assert.equal(L.cancelCommand('posix', { driver: '12', aefarm: '34\n' }, false), 'kill -TERM 12 34 2>/dev/null; exit 0');
  assert.equal(L.cancelCommand('posix', { driver: '12', aefarm: '34', children: ['56', '78'] }, true),
    'kill -KILL -- -56 -78 12 34 2>/dev/null; exit 0');
  assert.equal(L.cancelCommand('posix', { driver: '1; rm -rf /', aefarm: '' }, false), '');
  assert.equal(L.cancelCommand('windows', { driver: '4120', aefarm: '' }, true), 'cmd.exe /d /c "taskkill /T /F /PID 4120"');
  assert.equal(L.aliveCommand('windows', '4120'), 'tasklist /FI "PID eq 4120" /NH /FO CSV');
  assert.equal(L.parseAlive('windows', '4120', '"cmd.exe","4120","Console","1","3,000 K"'), true);
  assert.equal(L.parseAlive('windows', '4120', 'INFO: No tasks are running which match the specified criteria.'), false);
  assert.equal(L.aliveCommand('posix', 'x'), '');

  const win = L.jobLayout('windows', 'C:\\Users\\Zoë O\'Neil\\jobs', 'P:\\a.aep', new Date(0), 'local');
  const line = L.launchCommand('windows', win);
  const script = Buffer.from(line.split(' ').pop(), 'base64').toString('utf16le');
  assert.equal(script, `$p = Start-Process -FilePath 'C:\\Users\\Zoë O''Neil\\jobs\\a-19700101-000000-local\\run.cmd' ` +
    '-WindowStyle Minimized -PassThru; Set-Content -LiteralPath ' +
    '\'C:\\Users\\Zoë O\'\'Neil\\jobs\\a-19700101-000000-local\\run.pid\' -Value $p.Id -Encoding Ascii; $p.Id');
});

test('the Windows run script: UTF-8 code page, no delayed expansion, cancel checks, exit codes per item', () => {
  const layout = L.jobLayout('windows', 'C:\\jobs 100%', 'P:\\a.aep', new Date(0), 'local');
  const items = [item(1, 'A', 'D:\\out\\a_[####].png'), item(2, 'B & C', 'D:\\out\\b_[####].png')];
  const argvs = items.map((it) => L.renderArgv(L.mergeSettings({}), layout, it));
  const manifest = L.manifest(layout, 'local', items, argvs, { 1: 10, 2: 10 }, new Date(0));
  const text = L.runScript('windows', layout, manifest);
  const lines = text.split('\r\n');
  assert.deepEqual(lines.slice(0, 5), ['@echo off', 'rem aefarm local render a-19700101-000000-local (written by the aefarm After Effects panel)',
    'setlocal DisableDelayedExpansion', 'chcp 65001 >nul', 'set "PYTHONIOENCODING=utf-8"']);
  const dir = 'C:\\jobs 100%%\\a-19700101-000000-local';
  assert.ok(lines.includes(`if exist "${dir}\\cancel.txt" goto end`));
  assert.ok(lines.includes(`>"${dir}\\rq02.rc" echo %ERRORLEVEL%`));
  const render2 = lines.find((l) => l.includes('rq02.report.json'));
  assert.ok(render2.startsWith('"aefarm" render ^"C:\\jobs 100%%\\'), render2);
  assert.ok(render2.endsWith(` >"${dir}\\rq02.log" 2>&1 <nul`), render2);
  assert.equal(lines[lines.length - 2], `if exist "${dir}\\cancel.txt" (>"${dir}\\state.txt" echo cancelled) else (>"${dir}\\state.txt" echo done)`);
  assert.equal(text.includes('\n') && !/[^\r]\n/.test(text), true, 'CRLF line ends only');
});
