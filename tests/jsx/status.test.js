'use strict';
// Reading a local render's state from its job folder: log progress lines, the JSON run report, exit codes,
// the driver's state file, the cancel marker and whether the driver is alive.
const test = require('node:test');
const assert = require('node:assert/strict');
const { loadLib, plain } = require('./helpers/load');

const L = loadLib();

const ITEM = { index: 2, compName: 'Main', total: 8, output: '/out/Main_[####].png' };

function status(texts) {
  return plain(L.itemStatus(ITEM, { report: null, rc: null, log: null, ...texts }));
}

const LOG = ['cpu limit: 2', 'rendering 8 frames', '[chunk 1 pid 4242] started, frames 1-4',
  '[chunk 2 pid 4243] started, frames 5-8', '[chunk 1 pid 4242] PROGRESS:  0:00:00:01 (1): 0 Seconds',
  'progress: 1/8 frames (12%)', 'progress: 3/8 frames (37%)', '[chunk 2 pid 4243] progress: 9/9 frames (fake)']
  .join('\n');

test('log progress: the last aefarm progress line wins; child lines never count', () => {
  assert.deepEqual(plain(L.logProgress(LOG)), { done: 3, total: 8 });
  assert.deepEqual(plain(L.logProgress('rendering 40 frames\n')), { done: 0, total: 40 });
  assert.equal(L.logProgress('per-child logs: /tmp/x\n'), null);
  assert.equal(L.logProgress(null), null);
  assert.deepEqual(plain(L.logProgress('progress: 2/5 frames (40%)\r\nprogress: 4/5 frames (80%)\r\n')),
    { done: 4, total: 5 });
});

test('item states: waiting, running, done, failed (report or one-line error), cancelled', () => {
  assert.equal(status({}).state, 'waiting');
  const running = status({ log: LOG });
  assert.deepEqual([running.state, running.done, running.total], ['running', 3, 8]);

  const ok = status({ log: LOG, rc: '0\n', report: JSON.stringify({ ok: true, cancelled: false, missing: '',
    missing_count: 0, summary: 'all 8 verified', output: '/real/out/Main_[####].png', chunks: [] }) });
  assert.deepEqual([ok.state, ok.done, ok.total, ok.output], ['done', 8, 8, '/real/out/Main_[####].png']);

  const failed = status({ log: LOG, rc: '4', report: JSON.stringify({ ok: false, cancelled: false,
    missing: '5-8', missing_count: 4, summary: 'rendered 4 of 8 frames; missing 5-8',
    chunks: [{ chunk: 1, reason: '' }, { chunk: 2, reason: 'aerender exited 1: After Effects error: out of memory' }] }) });
  assert.deepEqual([failed.state, failed.done, failed.missing], ['failed', 4, '5-8']);
  assert.equal(failed.message, 'rendered 4 of 8 frames; missing 5-8; chunk 2: aerender exited 1: After Effects error: out of memory');

  const cancelled = status({ log: LOG, rc: '130', report: JSON.stringify({ ok: false, cancelled: true,
    missing: '4-8', missing_count: 5, summary: 'cancelled by SIGTERM', chunks: [] }) });
  assert.deepEqual([cancelled.state, cancelled.done, cancelled.message], ['cancelled', 3, 'cancelled by SIGTERM']);

  const badInput = status({ rc: '2\n', log: 'aefarm: error: bad frame spec \'1-x\': expected a frame number\n' });
  assert.deepEqual([badInput.state, badInput.message],
    ['failed', 'aefarm: error: bad frame spec \'1-x\': expected a frame number (exit 2)']);

  const killedEarly = status({ rc: '143', log: '' });
  assert.equal(killedEarly.state, 'cancelled');

  const notFound = status({ rc: '127', log: 'sh: 1: aefarm: not found\n' });
  assert.deepEqual([notFound.state, notFound.message], ['failed', 'sh: 1: aefarm: not found (exit 127)']);
});

test('a report that cannot be parsed yet is ignored (aefarm writes it atomically; the log still tells)', () => {
  const s = status({ log: LOG, report: '{"ok": tr' });
  assert.deepEqual([s.state, s.done], ['running', 3]);
});

function runWith(files, alive) {
  const manifest = { dir: '/job', state: '/job/state.txt', cancel: '/job/cancel.txt', items: [
    { index: 1, compName: 'A', total: 4, output: '/o/a', files: { report: '/job/r1', rc: '/job/c1', log: '/job/l1' } },
    { index: 2, compName: 'B', total: 6, output: '/o/b', files: { report: '/job/r2', rc: '/job/c2', log: '/job/l2' } },
  ] };
  const read = (p) => (Object.prototype.hasOwnProperty.call(files, p) ? files[p] : null);
  return plain(L.runStatus(manifest, read, alive));
}

const OK = (n) => JSON.stringify({ ok: true, missing_count: 0, summary: `${n} verified`, chunks: [] });

test('run states from the driver\'s state file, the cancel marker and the driver being alive', () => {
  const first = { '/job/l1': 'rendering 4 frames\nprogress: 2/4 frames (50%)\n' };
  let s = runWith(first, true);
  assert.deepEqual([s.state, s.done, s.total, s.finished], ['running', 2, 10, false]);

  s = runWith({ '/job/state.txt': 'done\n', '/job/r1': OK(4), '/job/c1': '0', '/job/r2': OK(6), '/job/c2': '0' }, false);
  assert.deepEqual([s.state, s.done, s.total, s.finished], ['done', 10, 10, true]);
  assert.deepEqual(s.items.map((i) => i.state), ['done', 'done']);

  s = runWith({ '/job/state.txt': 'done\n', '/job/r1': OK(4), '/job/c1': '0', '/job/c2': '2', '/job/l2': 'aefarm: error: x\n' }, false);
  assert.deepEqual([s.state, s.items[1].message], ['failed', 'aefarm: error: x (exit 2)']);

  s = runWith({ ...first, '/job/cancel.txt': 'cancel\n' }, true);
  assert.deepEqual([s.state, s.finished], ['cancelling', false]);
  s = runWith({ ...first, '/job/cancel.txt': 'cancel\n' }, false); // Windows: taskkill leaves no state file
  assert.deepEqual([s.state, s.finished], ['cancelled', true]);
  s = runWith({ '/job/state.txt': 'cancelled\n', '/job/c1': '130', '/job/cancel.txt': '' }, false);
  assert.deepEqual([s.state, s.items[0].state, s.items[1].state], ['cancelled', 'cancelled', 'waiting']);

  s = runWith(first, false); // the driver died on its own (machine restarted, killed)
  assert.equal(s.state, 'stopped');
  assert.match(s.message, /stopped without finishing: see \/job/);
  s = runWith(first, null); // pid not written yet: assume it is starting
  assert.equal(s.state, 'running');
});

test('one line per item for the panel', () => {
  assert.equal(L.describeItem({ index: 1, compName: 'Main', state: 'done', done: 8, total: 8, message: '',
    output: '/o/x_[####].png' }), 'rq 1 Main: done 8/8 -> /o/x_[####].png');
  assert.equal(L.describeItem({ index: 2, compName: 'B', state: 'failed', done: 2, total: 8, message: 'why',
    output: '/o/b' }), 'rq 2 B: failed 2/8 - why -> /o/b');
});

test('aerender child pids from the log (for a forced stop)', () => {
  assert.deepEqual(plain(L.childPids(LOG)), ['4242', '4243']);
});

test('a live report (written while the render runs) is progress, never the result', () => {
  const live = JSON.stringify({ live: true, status: 'running', ok: false, cancelled: false, total_frames: 8,
    done_frames: 5, missing: '', missing_count: 0, chunks: [] });
  const running = status({ log: LOG, report: live });
  assert.deepEqual([running.state, running.done, running.total], ['running', 5, 8]);
  const finalReport = JSON.stringify({ live: false, status: 'done', ok: true, cancelled: false, missing: '',
    missing_count: 0, chunks: [] });
  const done = status({ log: LOG, rc: '0', report: finalReport });
  assert.deepEqual([done.state, done.done], ['done', 8]);
});
