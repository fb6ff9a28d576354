'use strict';
// What the panel reads from the After Effects object model: render-queue items, frames from time spans, output
// paths, duplicate comp names, missing footage, fonts, and the checks before a submission.
const test = require('node:test');
const assert = require('node:assert/strict');
const { loadLib, plain } = require('./helpers/load');
const { rng } = require('./helpers/random');
const fake = require('./helpers/fake_ae');

function libWith(project) {
  const app = fake.makeApp(project);
  return loadLib(fake.aeGlobals({ app, system: fake.makeSystem() }));
}

const L = loadLib();
const NTSC = 30000 / 1001;

test('frame ranges from time spans: common rates, display start frames, mid-frame times', () => {
  const table = [
    // start s, duration s, fps, display start -> first, last
    [0, 10, 24, 0, 0, 239],
    [1, 2, 24, 0, 24, 71],
    [0, 10, 25, 1001, 1001, 1250],
    [10 / NTSC, 20 / NTSC, NTSC, 0, 10, 29],
    [1001 / 24000 * 100, 1001 / 24000 * 48, 24000 / 1001, 0, 100, 147],
    [0.5 / 24, 1 / 24, 24, 0, 0, 0], // one sample, inside frame 0
    [0, 0.01, 24, 0, 0, 0], // shorter than a frame: still one sample
    [0, 1 / 24, 24, 86400, 86400, 86400],
    [0, 2.5 / 24, 24, 0, 0, 2], // a span ending mid-frame still renders that frame
  ];
  for (const [start, duration, fps, offset, first, last] of table) {
    assert.deepEqual(plain(L.frameRange(start, duration, fps, offset)), { first, last }, `${start} ${duration} ${fps}`);
  }
});

test('frame ranges: any integer span at any rate gives back its own frames (property)', () => {
  const next = rng(5);
  const rates = [23.976, 24000 / 1001, 24, 25, 29.97, NTSC, 30, 48, 50, 59.94, 60000 / 1001, 60, 120, 12.5];
  for (let i = 0; i < 3000; i++) {
    const fps = rates[Math.floor(next() * rates.length)];
    const a = Math.floor(next() * 200000);
    const b = a + Math.floor(next() * 5000);
    const offset = Math.floor(next() * 3) * 1000 - 1000;
    const got = plain(L.frameRange(a / fps, (b - a + 1) / fps, fps, offset));
    assert.deepEqual(got, { first: a + offset, last: b + offset }, `fps ${fps} frames ${a}-${b}`);
  }
});

test('frame ranges: spans shorter than a frame and unusable rates are refused', () => {
  assert.throws(() => L.frameRange(0, 0, 24, 0), (e) => e.aefarm && /shorter than one frame/.test(e.message));
  assert.throws(() => L.frameRange(0, -1, 24, 0), (e) => e.aefarm && /shorter than one frame/.test(e.message));
  assert.throws(() => L.frameRange(0, 0.00001, 24, 0), (e) => e.aefarm && /shorter than one frame/.test(e.message));
  assert.throws(() => L.frameRange(0, 1, 0, 0), (e) => e.aefarm && /frame rate/.test(e.message));
  assert.throws(() => L.frameRange(0, 1, NaN, 0), (e) => e.aefarm && /frame rate/.test(e.message));
});

test('display start frame: displayStartFrame, else displayStartTime x frame rate, else 0', () => {
  assert.equal(L.displayStartFrame(new fake.CompItem({ name: 'a', frameRate: 25, displayStartFrame: 101 })), 101);
  assert.equal(L.displayStartFrame(new fake.CompItem({ name: 'a', frameRate: 25, displayStartTime: 40.04 })), 1001);
  assert.equal(L.displayStartFrame(new fake.CompItem({ name: 'a', frameRate: 25 })), 0);
});

function sampleProject() {
  const main = new fake.CompItem({ name: 'Main', id: 10, frameRate: 24, duration: 10, displayStartFrame: 1 });
  const titles = new fake.CompItem({ name: 'Tï\'tles "$x"', id: 11, frameRate: 25, duration: 4, displayStartFrame: 1001,
    layers: [new fake.Layer('solid'), new fake.TextLayer('t1', { keyFonts: ['Font-A', 'Font-B'], font: 'Font-A' }),
      new fake.TextLayer('t2', { font: 'Font-C' })] });
  const dupe = new fake.CompItem({ name: 'Main', id: 12 });
  const plate = new fake.FootageItem({ name: 'plate.png', file: '/mnt/show/plate.png', footageMissing: true });
  const music = new fake.FootageItem({ name: 'music.wav', file: null, footageMissing: true,
    missingFootagePath: 'P:\\audio\\music.wav' });
  const fine = new fake.FootageItem({ name: 'ok.png', file: '/tmp/ok.png' });
  const queue = [
    new fake.RenderQueueItem({ comp: main, timeSpanStart: 1, timeSpanDuration: 2,
      outputs: ['/renders/my shot/Main_[#####].png'] }),
    new fake.RenderQueueItem({ comp: titles, render: false, outputs: ['/renders/t.mov', '/renders/t_[####].png'] }),
    new fake.RenderQueueItem({ comp: dupe, timeSpanDuration: 0, outputs: [null] }),
  ];
  return new fake.Project({ file: '/projects/shot.aep', items: [main, plate, titles, music, dupe, fine], queue });
}

test('render-queue items: comp, queued flag, frames in comp frames, output paths as platform paths', () => {
  const L2 = libWith(sampleProject());
  const items = plain(L2.listRenderItems(sampleProject()));
  assert.equal(items.length, 3);
  assert.deepEqual(items.map((i) => [i.index, i.compName, i.queued]),
    [[1, 'Main', true], [2, 'Tï\'tles "$x"', false], [3, 'Main', true]]);
  assert.deepEqual(items[0].range, { first: 25, last: 72 });
  assert.equal(items[0].frameSpec, '25-72');
  assert.deepEqual(items[0].compRange, { first: 1, last: 240 });
  assert.equal(items[1].frameSpec, '1001-1100');
  // fsName, never the URI forms (a space would arrive as %20)
  assert.deepEqual(items[0].outputs, [{ index: 1, path: '/renders/my shot/Main_[#####].png' }]);
  assert.deepEqual(items[1].outputs.map((o) => o.path), ['/renders/t.mov', '/renders/t_[####].png']);
  assert.match(items[2].error, /shorter than one frame/);
  assert.equal(items[2].frameSpec, '');
  assert.deepEqual(items[2].outputs, [{ index: 1, path: '' }]);
});

test('duplicate comp names, missing footage (path from missingFootagePath or the file)', () => {
  const project = sampleProject();
  const L2 = libWith(project);
  assert.deepEqual(plain(L2.duplicateCompNames(project)), { Main: [10, 12] });
  assert.deepEqual(plain(L2.missingFootage(project)), [{ name: 'plate.png', path: '/mnt/show/plate.png' },
    { name: 'music.wav', path: 'P:\\audio\\music.wav' }]);
});

test('fonts: Project.usedFonts when present, else text layers at keyframes and now', () => {
  const project = sampleProject();
  const L2 = libWith(project);
  assert.deepEqual(plain(L2.projectFonts(project)), { names: ['Font-A', 'Font-B', 'Font-C'], source: 'textLayers' });
  project.usedFonts = [{ font: { postScriptName: 'Inter-Bold' }, usedAt: [] },
    { font: { postScriptName: 'Inter-Bold' }, usedAt: [] }, { font: { postScriptName: 'Gotham-Book' }, usedAt: [] }];
  assert.deepEqual(plain(L2.projectFonts(project)), { names: ['Inter-Bold', 'Gotham-Book'], source: 'usedFonts' });
  project.usedFonts = [];
  assert.deepEqual(plain(L2.projectFonts(project)), { names: [], source: 'usedFonts' });
});

function messages(problems, level) {
  return plain(problems).filter((p) => !level || p.level === level).map((p) => p.message);
}

test('checks before submitting: every kind of problem, errors vs warnings per target', () => {
  const project = sampleProject();
  const L2 = libWith(project);
  const items = L2.listRenderItems(project);
  const facts = { projectPath: '/projects/shot.aep', duplicates: L2.duplicateCompNames(project),
    missing: L2.missingFootage(project) };
  const farm = L2.checkSubmission(facts, items, 'accsyn');
  const errors = messages(farm, 'error');
  const warnings = messages(farm, 'warning');
  assert.ok(errors.some((m) => /^missing footage: plate\.png \(\/mnt\/show\/plate\.png\)$/.test(m)));
  assert.ok(errors.some((m) => /item 3 \(Main\): the time span/.test(m)));
  assert.ok(errors.some((m) => /item 3 \(Main\): no frames given/.test(m)));
  assert.ok(errors.some((m) => /item 3 \(Main\): no output file set/.test(m)));
  assert.ok(warnings.some((m) => /comp name "Main" is used by 2 comps/.test(m)));
  assert.ok(warnings.some((m) => /item 2 .* has 2 output modules; only the first \(\/renders\/t\.mov\)/.test(m)));
  assert.equal(L2.hasErrors(farm), true);
  // locally, missing footage is the artist's own business (aerender renders colour bars or fails): a warning
  const local = L2.checkSubmission(facts, items.slice(0, 2), 'local');
  assert.deepEqual(messages(local, 'error'), []);
  assert.ok(messages(local, 'warning').some((m) => /^missing footage/.test(m)));
  assert.equal(L2.hasErrors(local), false);
});

test('checks: unsaved project, nothing selected, relative or drive-relative output paths', () => {
  const item = { index: 1, compName: 'A', frameSpec: '1-2', error: '', outputs: [{ index: 1, path: 'renders/a.png' }] };
  const p = (facts, items) => messages(L.checkSubmission(facts, items, 'local'), 'error');
  assert.deepEqual(p({ projectPath: '' }, []), ['the project has never been saved: save it first',
    'no render-queue item is selected']);
  for (const rel of ['renders/a.png', 'C:renders\\a.png', '\\renders\\a.png', '~/a.png', './a.png']) {
    item.outputs[0].path = rel;
    assert.deepEqual(p({ projectPath: '/p.aep' }, [item]), [`item 1 (A): output path is not absolute: ${rel}`], rel);
  }
  for (const abs of ['/Volumes/x/a.png', 'C:\\r\\a.png', 'c:/r/a.png', '\\\\server\\share\\a.png']) {
    item.outputs[0].path = abs;
    assert.deepEqual(p({ projectPath: '/p.aep' }, [item]), [], abs);
  }
  item.frameSpec = '   ';
  assert.deepEqual(p({ projectPath: '/p.aep' }, [item]), ['item 1 (A): no frames given']);
});
