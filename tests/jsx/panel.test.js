'use strict';
// The panel file itself (jsx/aefarm_panel.jsx) under a fake ScriptUI: it loads its library with $.evalFile,
// lists the render queue, checks a frame spec through aefarm, and its Render button starts the local render
// whose progress its scheduled poll shows until both items are done.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { JSX_DIR, es3Realm } = require('./helpers/load');
const fake = require('./helpers/fake_ae');
const ui = require('./helpers/fake_scriptui');
const { AEFARM, AERENDER_SIM, requireVenv, tempDir, writeQueueProject } = require('./helpers/aefarm');

test('the panel lists items, checks frames, renders both items and shows them done', async () => {
  requireVenv();
  const dir = tempDir('aefarm-panel-');
  const aepx = writeQueueProject(path.join(dir, 'shot.aepx'), ['Main', 'End']);
  const main = new fake.CompItem({ name: 'Main', id: 1, frameRate: 24, duration: 1 });
  const end = new fake.CompItem({ name: 'End', id: 2, frameRate: 24, duration: 1 });
  const queue = [
    new fake.RenderQueueItem({ comp: main, timeSpanDuration: 3 / 24, outputs: [path.join(dir, 'o', 'M_[####].png')] }),
    new fake.RenderQueueItem({ comp: end, timeSpanStart: 2 / 24, timeSpanDuration: 2 / 24,
      outputs: [path.join(dir, 'o', 'E_[####].png')] }),
    new fake.RenderQueueItem({ comp: end, render: false, outputs: [path.join(dir, 'o', 'X_[####].png')] }),
  ];
  const project = new fake.Project({ file: aepx, items: [main, end], queue, dirty: false });
  const app = fake.makeApp(project);
  const tasks = [];
  app.scheduleTask = (code, ms, repeat) => { tasks.push({ code, ms, repeat, live: true }); return tasks.length; };
  app.cancelTask = (id) => { tasks[id - 1].live = false; };
  for (const [key, value] of Object.entries({ aefarmPath: AEFARM, aerenderPath: AERENDER_SIM, concurrency: '1',
    jobRoot: path.join(dir, 'jobs') })) app.settings.saveSetting('aefarm panel', key, value);
  const system = fake.makeSystem({ AERENDER_SIM_FRAME_SECONDS: '0.01' });
  const panelFile = path.join(JSX_DIR, 'aefarm_panel.jsx');
  const globals = fake.aeGlobals({ app, system });
  const context = es3Realm({ ...globals, Window: ui.Window, Panel: ui.Panel, confirm: () => true });
  globals.$.fileName = panelFile;
  globals.$.global = vm.runInContext('this', context);
  globals.$.evalFile = (file) => vm.runInContext(fs.readFileSync(file.fsName, 'utf8'), context, { filename: file.fsName });
  globals.Folder.temp = new fake.Folder(path.join(dir, 'temp'));
  const panel = new ui.Panel();
  context.__panel = panel;
  vm.runInContext(`(function () {\n${fs.readFileSync(panelFile, 'utf8')}\n}).call(__panel);`, context,
    { filename: panelFile });

  const list = panel.find('listbox');
  const status = panel.all().find((c) => c.type === 'edittext' && c.props.multiline);
  assert.deepEqual(list.items.map((i) => [i.text, i.subItems[0].text, i.subItems[1].text, i.selected]),
    [['1', 'Main', '0-2', true], ['2', 'End', '2-3', true], ['3', 'End', '0-23', false]]);
  assert.match(status.text, /3 render-queue items; queued ones are selected/);

  // one item selected: its frames in the field; a bad spec is checked by aefarm and its error shown
  list.items[1].selected = false;
  list.onChange();
  const framesEdit = panel.all().find((c) => c.type === 'edittext' && !c.props.multiline);
  assert.equal(framesEdit.text, '0-2');
  framesEdit.text = '1-x';
  panel.find('button', 'Check').onClick();
  assert.match(status.text, /^aefarm: error: bad frame spec '1-x'.*\(exit 2\)$/);
  framesEdit.text = '0-2';
  framesEdit.onChange();
  list.items[1].selected = true;

  panel.find('button', 'Render').onClick();
  assert.match(status.text, /^Started: /, status.text);
  assert.deepEqual(tasks.map((t) => [t.code, t.repeat]), [['AefarmPanelPoll()', true]]);
  const deadline = Date.now() + 40000;
  while (tasks[0].live) {
    assert.ok(Date.now() < deadline, status.text);
    await new Promise((resolve) => setTimeout(resolve, 200));
    vm.runInContext('AefarmPanelPoll()', context);
  }
  assert.match(status.text, /: done 5\/5 frames\n/);
  assert.match(status.text, /^rq 1 Main: done 3\/3 -> /m);
  assert.match(status.text, /^rq 2 End: done 2\/2 -> /m);
  assert.equal(panel.find('progressbar').value, 100);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'o')).sort(),
    ['E_0002.png', 'E_0003.png', 'M_0000.png', 'M_0001.png', 'M_0002.png']);
  assert.match(app.settings.getSetting('aefarm panel', 'lastRun'), /run\.json$/);
});
