'use strict';
// accsyn and Deadline Cloud through the panel: a binary .aep gets an .aepx copy (save as, then the artist's file
// reopened), fonts are collected into the job folder, "one submission" checks every item before submitting any,
// "one job per item" lets the others go on. A stand-in aefarm records each call (no farm backend exists here);
// that the real aefarm accepts these argv is tested in commands.test.js.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { loadLib, plain } = require('./helpers/load');
const fake = require('./helpers/fake_ae');
const { PYTHON, requireVenv, tempDir } = require('./helpers/aefarm');

const STAND_IN = `#!${PYTHON}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_AEFARM_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
fail = os.environ.get("FAKE_AEFARM_FAIL", "")
if fail and fail in " ".join(args) and ("--dry-run" in args or "bundle" in args[:2] or os.environ.get("FAKE_AEFARM_FAIL_SUBMIT")):
    sys.stderr.write("aefarm: error: --filters: unknown key 'rom'\\n")
    sys.exit(2)
if args[:2] == ["fonts", "collect"]:
    os.makedirs(args[args.index("-o") + 1], exist_ok=True)
if args[:1] == ["frames"]:
    print(json.dumps({"spec": args[1], "count": 10, "first": 1, "last": 10}))
else:
    print("created job %s" % args[args.index("--rqindex") + 1] if "--rqindex" in args else "ok")
`;

function setup(target, settings, env = {}) {
  requireVenv();
  const dir = tempDir('aefarm-farm-');
  const exe = path.join(dir, 'aefarm');
  fs.writeFileSync(exe, STAND_IN, { mode: 0o755 });
  const log = path.join(dir, 'calls.jsonl');
  const aep = path.join(dir, 'shot.aep');
  fs.writeFileSync(aep, 'RIFX binary project');
  const comp = new fake.CompItem({ name: 'Main', id: 1, frameRate: 24, duration: 1,
    layers: [new fake.TextLayer('title', { keyFonts: ['Gotham-Bold'], font: 'Gotham-Book' })] });
  const comp2 = new fake.CompItem({ name: 'End', id: 2, frameRate: 24, duration: 1 });
  const queue = [new fake.RenderQueueItem({ comp, outputs: ['/Volumes/out/Main_[####].png'] }),
    new fake.RenderQueueItem({ comp: comp2, outputs: ['/Volumes/out/End.mov'] })];
  const project = new fake.Project({ file: aep, items: [comp, comp2], queue, dirty: true });
  const app = fake.makeApp(project);
  const system = fake.makeSystem({ FAKE_AEFARM_LOG: log, ...env });
  const L = loadLib(fake.aeGlobals({ app, system }));
  const prompts = [];
  const ctx = { app, io: L.fileIO(), os: 'posix', callSystem: system.callSystem, tempDir: path.join(dir, 'tmp'),
    settings: L.mergeSettings({ aefarmPath: exe, target, jobRoot: path.join(dir, 'jobs'), ...settings }),
    confirm: (text) => { prompts.push(text); return true; }, now: () => new Date() };
  const calls = () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : [])
    .filter((a) => a[0] !== 'frames');
  return { dir, aep, app, project, L, ctx, prompts, calls };
}

test('Deadline, one submission: .aepx copy and reopen, fonts collected, every bundle checked, then submitted', () => {
  const { aep, app, project, L, ctx, prompts, calls } = setup('deadline', { grouping: 'together' });
  const items = L.listRenderItems(project);
  const job = L.prepareJob(ctx, 'deadline', items);
  assert.equal(job.ok, true, L.problemText(job.problems));
  assert.equal(prompts.length, 2);
  assert.match(prompts[1], /saves the project as .*shot\.aepx and then reopens .*shot\.aep/);
  assert.deepEqual(project.saves, ['(save)', job.layout.project]);
  assert.deepEqual(app.opened, [aep]);
  assert.equal(app.project.file.fsName, aep);
  assert.deepEqual(JSON.parse(fs.readFileSync(job.layout.fontsList, 'utf8')), ['Gotham-Bold', 'Gotham-Book']);

  const results = plain(L.submitFarm(ctx, job, items));
  assert.deepEqual(results.map((r) => [r.index, r.ok, r.message]), [[1, true, 'submitted'], [2, true, 'submitted']]);
  const made = calls();
  const summary = made.map((a) => a.slice(0, 2).concat(a.includes('--rqindex') ? a[a.indexOf('--rqindex') + 1] : ''));
  assert.deepEqual(summary[0], ['fonts', 'collect', '']);
  // the checks run side by side (any order), the submissions one after another, only after every check
  assert.deepEqual(summary.slice(1, 3).sort(), [['deadline', 'bundle', '1'], ['deadline', 'bundle', '2']]);
  assert.deepEqual(summary.slice(3), [['deadline', 'submit', '1'], ['deadline', 'submit', '2']]);
  const submit2 = made[4];
  assert.equal(submit2[2], job.layout.project);
  assert.ok(submit2.includes('--video'));
  assert.equal(submit2[submit2.indexOf('--fonts') + 1], job.layout.fontsDir);
});

test('accsyn, one submission: one failing check submits nothing', () => {
  const { L, ctx, project, calls } = setup('accsyn', { grouping: 'together', accsynFilters: 'rom:>3g' },
    { FAKE_AEFARM_FAIL: '--rqindex 2' });
  const items = L.listRenderItems(project);
  const job = L.prepareJob(ctx, 'accsyn', items);
  assert.equal(job.ok, true, L.problemText(job.problems));
  const results = plain(L.submitFarm(ctx, job, items));
  assert.deepEqual(results.map((r) => [r.index, r.ok, r.message]), [
    [1, false, 'not submitted: another item failed its check'],
    [2, false, 'aefarm: error: --filters: unknown key \'rom\' (exit 2)']]);
  assert.equal(calls().filter((a) => a[1] === 'submit' && !a.includes('--dry-run')).length, 0);
});

test('accsyn, one job per item: a failing item does not stop the others', () => {
  const { L, ctx, project, calls } = setup('accsyn', { grouping: 'perItem', collectFonts: 'false' },
    { FAKE_AEFARM_FAIL: '--rqindex 1', FAKE_AEFARM_FAIL_SUBMIT: '1' });
  const items = L.listRenderItems(project);
  const job = L.prepareJob(ctx, 'accsyn', items);
  assert.equal(job.ok, true, L.problemText(job.problems));
  const results = plain(L.submitFarm(ctx, job, items));
  assert.deepEqual(results.map((r) => [r.index, r.ok]), [[1, false], [2, true]]);
  assert.equal(results[1].output.trim(), 'created job 2');
  assert.deepEqual(calls().map((a) => a.slice(0, 2)), [['accsyn', 'submit'], ['accsyn', 'submit']]);
});

test('Deadline export: bundles written, nothing submitted', () => {
  const { L, ctx, project, calls } = setup('deadline', { deadlineAction: 'bundle', collectFonts: 'false' });
  const items = L.listRenderItems(project).slice(0, 1);
  const job = L.prepareJob(ctx, 'deadline', items);
  const results = plain(L.submitFarm(ctx, job, items));
  assert.deepEqual(results.map((r) => r.message), [`bundle written to ${L.bundleDir(job.layout, items[0])}`]);
  assert.deepEqual(calls().map((a) => a.slice(0, 2)), [['deadline', 'bundle']]);
});

test('farm targets refuse missing footage and declined .aepx copies before writing anything', () => {
  const { L, ctx, project, dir, prompts } = setup('accsyn', {});
  project.items.push(new fake.FootageItem({ name: 'plate.exr', file: '/Volumes/show/plate.exr', footageMissing: true }));
  let job = L.prepareJob(ctx, 'accsyn', L.listRenderItems(project));
  assert.equal(job.ok, false);
  assert.match(L.problemText(job.problems), /^error: missing footage: plate\.exr \(\/Volumes\/show\/plate\.exr\)$/m);
  project.items.pop();
  ctx.confirm = (text) => { prompts.push(text); return !/aepx copy/.test(text); };
  job = L.prepareJob(ctx, 'accsyn', L.listRenderItems(project));
  assert.equal(job.ok, false);
  assert.match(L.problemText(job.problems), /the \.aepx copy was declined/);
  assert.equal(fs.existsSync(path.join(dir, 'jobs')), false);
});
