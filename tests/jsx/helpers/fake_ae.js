'use strict';
// A small fake of the After Effects scripting object model and of ExtendScript's File/Folder/system, enough for
// the panel's library: app.project (items, render queue, usedFonts, save), CompItem, FootageItem, TextLayer,
// RenderQueueItem with time spans and output modules, app.settings, app.open, File/Folder on the real disk, and
// system.callSystem running its line through the real /bin/sh (as After Effects does on macOS).
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const RQItemStatus = { WILL_CONTINUE: 3012, NEEDS_OUTPUT: 3013, UNQUEUED: 3014, QUEUED: 3015, RENDERING: 3016,
  USER_STOPPED: 3017, ERR_STOPPED: 3018, DONE: 3019 };

class File {
  constructor(p) {
    this.fsName = path.resolve(String(p instanceof File ? p.fsName : p));
    this.encoding = 'UTF-8';
    this.error = '';
    this._mode = null;
  }
  get exists() { return fs.existsSync(this.fsName); }
  // ExtendScript's URI forms are escaped (a space is %20): the library must never use them for paths
  get fullName() { return encodeURI(this.fsName); }
  get absoluteURI() { return encodeURI(this.fsName); }
  get name() { return encodeURIComponent(path.basename(this.fsName)); }
  get parent() { return new Folder(path.dirname(this.fsName)); }
  get length() { return this.exists ? fs.statSync(this.fsName).size : 0; }
  open(mode) {
    this._mode = mode;
    this._pos = 0;
    if (mode === 'r') {
      if (!this.exists) { this.error = 'File or folder does not exist'; return false; }
      const buf = fs.readFileSync(this.fsName);
      this._data = this.encoding === 'BINARY' ? buf.toString('latin1') : buf.toString('utf8');
      return true;
    }
    if (mode === 'w') {
      if (!fs.existsSync(path.dirname(this.fsName))) { this.error = 'folder does not exist'; return false; }
      this._buf = '';
      return true;
    }
    throw new Error(`fake File.open: mode ${mode} not modelled`);
  }
  seek(pos, mode) {
    if (mode !== 0) throw new Error('fake File.seek: only mode 0 is modelled');
    this._pos = pos;
    return true;
  }
  read() { return this._data.substring(this._pos); }
  write(text) {
    if (this._mode !== 'w') return false;
    if (this.encoding === 'BINARY' && /[^\x00-\xff]/.test(text)) {
      throw new Error('fake File.write: BINARY text holds a character above 0xFF (not encoded to bytes)');
    }
    this._buf += text;
    return true;
  }
  close() {
    if (this._mode === 'w') {
      fs.writeFileSync(this.fsName, Buffer.from(this._buf, this.encoding === 'BINARY' ? 'latin1' : 'utf8'));
    }
    this._mode = null;
    return true;
  }
  remove() {
    try { fs.unlinkSync(this.fsName); return true; } catch (e) { return false; }
  }
  rename(newName) {
    if (/[\\/]/.test(newName)) return false; // ExtendScript: a name, not a path
    const target = path.join(path.dirname(this.fsName), newName);
    if (fs.existsSync(target)) return false;
    fs.renameSync(this.fsName, target);
    this.fsName = target;
    return true;
  }
  copy(dest) {
    try {
      fs.copyFileSync(this.fsName, dest instanceof File ? dest.fsName : path.resolve(String(dest)));
      return true;
    } catch (e) { this.error = e.message; return false; }
  }
}

class Folder extends File {
  get exists() { return fs.existsSync(this.fsName) && fs.statSync(this.fsName).isDirectory(); }
  /** One level only (the library must not rely on create() making missing parents). */
  create() {
    try { fs.mkdirSync(this.fsName); return true; } catch (e) { return e.code === 'EEXIST'; }
  }
}

class CompItem {
  constructor({ name, id, frameRate = 24, duration = 10, displayStartFrame, displayStartTime, layers = [] }) {
    Object.assign(this, { name, id, frameRate, duration, layers });
    if (displayStartFrame !== undefined) this.displayStartFrame = displayStartFrame;
    if (displayStartTime !== undefined) this.displayStartTime = displayStartTime;
  }
  get numLayers() { return this.layers.length; }
  layer(i) { return this.layers[i - 1]; }
}

class FootageItem {
  constructor({ name, file, footageMissing = false, missingFootagePath }) {
    this.name = name;
    this.file = file ? new File(file) : null;
    this.footageMissing = footageMissing;
    this.mainSource = missingFootagePath === undefined ? {} : { missingFootagePath };
  }
}

class Layer {
  constructor(name) { this.name = name; }
  property() { return null; }
}

class TextLayer extends Layer {
  /** keyFonts: fonts at Source Text keyframes; font: the current value's font. */
  constructor(name, { keyFonts = [], font = null } = {}) {
    super(name);
    this.sourceText = {
      numKeys: keyFonts.length,
      keyValue: (i) => ({ font: keyFonts[i - 1] }),
      value: { font },
    };
  }
  property(name) { return name === 'Source Text' ? this.sourceText : null; }
}

class RenderQueueItem {
  constructor({ comp, render = true, timeSpanStart = 0, timeSpanDuration, outputs = [] }) {
    this.comp = comp;
    this.render = render;
    this.status = render ? RQItemStatus.QUEUED : RQItemStatus.UNQUEUED;
    this.timeSpanStart = timeSpanStart;
    this.timeSpanDuration = timeSpanDuration === undefined ? comp.duration : timeSpanDuration;
    this.oms = outputs.map((p) => ({ file: p === null ? null : new File(p) }));
  }
  get numOutputModules() { return this.oms.length; }
  outputModule(i) { return this.oms[i - 1]; }
}

class Project {
  constructor({ file = null, items = [], queue = [], usedFonts, dirty = true, app = null }) {
    this.file = file ? new File(file) : null;
    this.items = items;
    this.queue = queue;
    if (usedFonts !== undefined) this.usedFonts = usedFonts;
    this.dirty = dirty;
    this.saves = [];
    this.app = app;
    this.renderQueue = { numItems: queue.length, item: (i) => queue[i - 1] };
  }
  get numItems() { return this.items.length; }
  item(i) { return this.items[i - 1]; }
  /** File > Save (no argument) or File > Save As (a File): the open project becomes that file. */
  save(file) {
    if (file) {
      if (this.file && fs.existsSync(this.file.fsName)) fs.copyFileSync(this.file.fsName, file.fsName);
      else fs.writeFileSync(file.fsName, '<AfterEffectsProject/>');
      this.file = new File(file);
    } else if (this.file) {
      fs.utimesSync(this.file.fsName, new Date(), new Date());
    }
    this.saves.push(file ? file.fsName : '(save)');
    this.dirty = false;
  }
}

class Settings {
  constructor(values = {}) { this.values = new Map(Object.entries(values).map(([k, v]) => [`aefarm panel/${k}`, v])); }
  haveSetting(section, key) { return this.values.has(`${section}/${key}`); }
  getSetting(section, key) { return this.values.get(`${section}/${key}`); }
  saveSetting(section, key, value) { this.values.set(`${section}/${key}`, String(value)); }
}

/** app with `project`; app.open(file) reopens a project of the same content from `file` (or fails if told). */
function makeApp(project, { openFails = false } = {}) {
  const app = {
    project, settings: new Settings(), version: '24.6x67', opened: [],
    open(file) {
      app.opened.push(file.fsName);
      if (openFails) return null;
      const again = new Project({ file: file.fsName, items: project.items, queue: project.queue, dirty: false });
      app.project = again;
      return again;
    },
  };
  project.app = app;
  return app;
}

/** system.callSystem through the real /bin/sh -c (After Effects on macOS), with `env` added for the child. */
function makeSystem(env = {}) {
  const calls = [];
  return {
    calls,
    callSystem(line) {
      calls.push(line);
      const r = spawnSync('/bin/sh', ['-c', line], { encoding: 'utf8', env: { ...process.env, ...env } });
      return (r.stdout || '') + (r.stderr || '');
    },
  };
}

/** The globals the library expects in ExtendScript. */
function aeGlobals({ app, system, os = 'Macintosh OS 14.2/64' }) {
  return { app, system, File, Folder, CompItem, FootageItem, TextLayer, RQItemStatus,
    $: { os, global: null } };
}

module.exports = { File, Folder, CompItem, FootageItem, Layer, TextLayer, RenderQueueItem, Project, Settings,
  RQItemStatus, makeApp, makeSystem, aeGlobals };
