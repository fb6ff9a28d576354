'use strict';
// The whole local path, as the panel runs it: a fake After Effects project with two queued render-queue items ->
// the panel's checks, save prompt, project copy and command lines -> a detached run of the real `aefarm render`
// (this worktree's venv) on the aerender simulator -> the panel's status reader shows both items done.
// Then cancel (every process stops, the next item never starts) and a failing render (the report's reason shown).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { loadLib, plain } = require('./helpers/load');
const fake = require('./helpers/fake_ae');
const { AEFARM, AERENDER_SIM, requireVenv, tempDir, writeQueueProject } = require('./helpers/aefarm');

const HOSTILE_COMP = 'Tï\'tle "$HOME" & 100% `id`';

function setup(env, { frameSeconds = '0.02' } = {}) {
  requireVenv();
  const dir = tempDir('aefarm-e2e-');
  const aepx = writeQueueProject(path.join(dir, 'shot 010.aepx'), ['Main', HOSTILE_COMP]);
  const main = new fake.CompItem({ name: 'Main', id: 1, frameRate: 24, duration: 10, displayStartFrame: 0 });
  const titles = new fake.CompItem({ name: HOSTILE_COMP, id: 2, frameRate: 24, duration: 2, displayStartFrame: 0 });
  const queue = [
    new fake.RenderQueueItem({ comp: main, timeSpanStart: 1 / 24, timeSpanDuration: 4 / 24,
      outputs: [path.join(dir, 'out dir', 'Main_[####].png')] }),
    new fake.RenderQueueItem({ comp: titles, timeSpanStart: 0, timeSpanDuration: 3 / 24,
      outputs: [path.join(dir, 'Ünï \'q\' $x & y', 'T_[####].png')] }),
  ];
  const project = new fake.Project({ file: aepx, items: [main, titles], queue, dirty: true });
  const app = fake.makeApp(project);
  const system = fake.makeSystem({ AERENDER_SIM_FRAME_SECONDS: frameSeconds, ...env });
  const L = loadLib(fake.aeGlobals({ app, system }));
  const prompts = [];
  const ctx = { app, io: L.fileIO(), os: 'posix', callSystem: system.callSystem, tempDir: path.join(dir, 'tmp'),
    settings: L.mergeSettings({ aefarmPath: AEFARM, aerenderPath: AERENDER_SIM, concurrency: '2',
      jobRoot: path.join(dir, 'jobs') }),
    confirm: (text) => { prompts.push(text); return true; }, now: () => new Date() };
  return { dir, aepx, project, app, system, L, ctx, prompts };
}

async function pollUntilFinished(L, ctx, manifest, seconds) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const status = plain(L.pollRun(ctx, manifest));
    if (status.finished) return status;
    if (Date.now() > deadline) throw new Error(`still ${status.state} after ${seconds} s: ${JSON.stringify(status)}`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

/** Whether any live (not zombie) process is in process group `pgid` (Linux /proc; this sandbox's init reaps late). */
function groupAlive(pgid) {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try { stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8'); } catch (e) { continue; }
    const fields = stat.substring(stat.lastIndexOf(')') + 2).split(' '); // state ppid pgrp ...
    if (fields[2] === String(pgid) && fields[0] !== 'Z') return true;
  }
  return false;
}

test('two queued items render locally through the panel and its report reader shows both done', async () => {
  const { dir, aepx, project, app, L, ctx, prompts } = setup({});
  const items = L.listRenderItems(project);
  const selected = [];
  for (let i = 0; i < items.length; i++) if (items[i].queued) selected.push(items[i]);
  assert.deepEqual(selected.map((i) => [i.index, i.frameSpec]), [[1, '1-4'], [2, '0-2']]);

  const job = L.prepareJob(ctx, 'local', selected);
  assert.equal(job.ok, true, L.problemText(job.problems));
  assert.equal(prompts.length, 1);
  assert.match(prompts[0], /Save shot 010\.aepx now\?/);
  assert.deepEqual(project.saves, ['(save)']);
  assert.equal(app.project.file.fsName, aepx); // the artist still has their own file open
  assert.deepEqual(fs.readFileSync(job.layout.project), fs.readFileSync(aepx)); // aefarm's copy, byte for byte

  const manifest = L.startLocal(ctx, job, selected);
  assert.match(manifest.launchPid, /^\d+$/);
  const status = await pollUntilFinished(L, ctx, manifest, 40);
  assert.equal(status.state, 'done', JSON.stringify(status));
  assert.deepEqual(status.items.map((i) => [i.index, i.state, i.done, i.total]), [[1, 'done', 4, 4], [2, 'done', 3, 3]]);
  assert.deepEqual([status.done, status.total], [7, 7]);
  assert.equal(L.describeItem(status.items[1]),
    `rq 2 ${HOSTILE_COMP}: done 3/3 -> ${path.join(dir, 'Ünï \'q\' $x & y', 'T_[####].png')}`);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'out dir')).sort(),
    ['Main_0001.png', 'Main_0002.png', 'Main_0003.png', 'Main_0004.png']);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'Ünï \'q\' $x & y')).sort(), ['T_0000.png', 'T_0001.png', 'T_0002.png']);
  const report = JSON.parse(fs.readFileSync(manifest.items[1].files.report, 'utf8'));
  assert.equal(report.ok, true);
  assert.equal(report.chunks[0].invocations[0].argv[report.chunks[0].invocations[0].argv.indexOf('-rqindex') + 1], '2');
});

test('cancel stops aefarm and every aerender child, and the next item never starts', async () => {
  const { L, ctx, project } = setup({}, { frameSeconds: '0.05' });
  const selected = L.listRenderItems(project);
  selected[0].frameSpec = '0-239'; // 12 s of simulated frames with one child
  ctx.settings.concurrency = '1';
  const job = L.prepareJob(ctx, 'local', selected);
  assert.equal(job.ok, true, L.problemText(job.problems));
  const manifest = L.startLocal(ctx, job, selected);
  const deadline = Date.now() + 20000;
  let status;
  do {
    await new Promise((resolve) => setTimeout(resolve, 150));
    status = plain(L.pollRun(ctx, manifest));
    assert.ok(Date.now() < deadline, `no frame rendered in time: ${JSON.stringify(status)}`);
  } while (!(status.items[0].done >= 1));
  const log = fs.readFileSync(manifest.items[0].files.log, 'utf8');
  const children = L.childPids(log);
  assert.ok(children.length >= 1, log);
  const driver = fs.readFileSync(manifest.pid, 'utf8').trim();

  L.cancelRun(ctx, manifest, false);
  status = await pollUntilFinished(L, ctx, manifest, 30);
  assert.equal(status.state, 'cancelled', JSON.stringify(status));
  assert.equal(status.items[0].state, 'cancelled');
  assert.ok(status.items[0].done >= 1 && status.items[0].done < 240, JSON.stringify(status.items[0]));
  assert.equal(status.items[1].state, 'waiting');
  assert.equal(fs.existsSync(manifest.items[1].files.log), false); // item 2 was never started
  assert.equal(JSON.parse(fs.readFileSync(manifest.items[0].files.report, 'utf8')).cancelled, true);
  for (const pid of children) assert.equal(groupAlive(pid), false, `aerender child group ${pid} still alive`);
  assert.equal(L.runAlive(ctx, manifest), false, `driver ${driver} still alive`);
});

test('a failing render shows aefarm\'s reason from its report', async () => {
  const { L, ctx, project } = setup({ AERENDER_SIM_LICENSE_ERROR: '1' });
  const selected = L.listRenderItems(project).slice(1);
  const job = L.prepareJob(ctx, 'local', selected);
  assert.equal(job.ok, true, L.problemText(job.problems));
  const manifest = L.startLocal(ctx, job, selected);
  const status = await pollUntilFinished(L, ctx, manifest, 40);
  assert.equal(status.state, 'failed');
  assert.equal(status.items[0].state, 'failed');
  assert.equal(status.items[0].done, 0);
  assert.match(status.items[0].message, /chunk \d+: .*licen/i);
});

test('bad input stops before anything is written: frames outside the comp, declined save', () => {
  const { L, ctx, project, dir, prompts } = setup({});
  const selected = L.listRenderItems(project);
  selected[1].frameSpec = '0-100'; // the comp has 48 frames
  let job = L.prepareJob(ctx, 'local', selected);
  assert.equal(job.ok, false);
  assert.deepEqual(plain(job.problems).map((p) => p.message),
    [`item 2 (${HOSTILE_COMP}) frames 0-100 reach outside the comp (frames 0-47)`]);
  assert.equal(prompts.length, 0);
  selected[1].frameSpec = '0-2';
  ctx.confirm = (text) => { prompts.push(text); return false; };
  job = L.prepareJob(ctx, 'local', selected);
  assert.equal(job.ok, false);
  assert.match(L.problemText(job.problems), /not submitted: the project was not saved/);
  assert.deepEqual(project.saves, []);
  assert.equal(fs.existsSync(path.join(dir, 'jobs')), false);
});
