'use strict';
// Loads the panel's library (jsx/aefarm_lib/*.jsxinc) into a fresh VM realm that looks like ExtendScript's ES3
// engine: no JSON object and none of the ES5+ methods, so a library call to one of them fails here as it would
// in After Effects. The fake After Effects globals (tests/jsx/helpers/fake_ae.js) are installed in that realm.
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const JSX_DIR = path.join(ROOT, 'jsx');
const LIB_DIR = path.join(JSX_DIR, 'aefarm_lib');
// the order the panel loads them in (a test checks the panel's list against this folder)
const LIB_FILES = ['core', 'json', 'quote', 'project', 'commands', 'scripts', 'status', 'host', 'submit'];

const NOT_IN_ES3 = {
  'Array.prototype': ['indexOf', 'lastIndexOf', 'forEach', 'map', 'filter', 'reduce', 'reduceRight', 'some',
    'every', 'find', 'findIndex', 'includes', 'fill', 'flat', 'flatMap', 'at', 'keys', 'values', 'entries'],
  'String.prototype': ['trim', 'trimStart', 'trimEnd', 'trimLeft', 'trimRight', 'includes', 'startsWith',
    'endsWith', 'repeat', 'padStart', 'padEnd', 'codePointAt', 'normalize', 'at', 'replaceAll'],
  'Object': ['keys', 'create', 'defineProperty', 'defineProperties', 'getPrototypeOf', 'getOwnPropertyNames',
    'freeze', 'assign', 'entries', 'values'],
  'Array': ['isArray', 'from', 'of'],
  'Date': ['now'],
  'Date.prototype': ['toISOString', 'toJSON'],
  'Function.prototype': ['bind'],
};

function es3Realm(globals) {
  const context = vm.createContext({});
  const strip = Object.entries(NOT_IN_ES3)
    .map(([owner, names]) => names.map((n) => `delete ${owner}.${n};`).join('\n')).join('\n');
  vm.runInContext(`${strip}\ndelete globalThis.JSON;`, context);
  Object.assign(context, globals || {});
  return context;
}

/** The AefarmLib namespace, loaded in an ES3-like realm with `globals` (fake AE objects) installed. */
function loadLib(globals) {
  const context = es3Realm(globals);
  for (const name of LIB_FILES) {
    const file = path.join(LIB_DIR, `${name}.jsxinc`);
    vm.runInContext(fs.readFileSync(file, 'utf8'), context, { filename: file });
  }
  return context.AefarmLib;
}

/** Plain main-realm data from a value made in the VM realm (deepStrictEqual compares prototypes). */
function plain(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

module.exports = { ROOT, JSX_DIR, LIB_DIR, LIB_FILES, NOT_IN_ES3, loadLib, plain, es3Realm };
