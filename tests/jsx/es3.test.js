'use strict';
// Every .jsx/.jsxinc file is ECMAScript 3 (what ExtendScript runs): acorn with ecmaVersion 3 parses it, and it
// calls none of the ES5+ library functions ExtendScript lacks (JSON, Array#forEach, String#trim, ...).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const acorn = require('acorn');
const { JSX_DIR, LIB_DIR, LIB_FILES, NOT_IN_ES3 } = require('./helpers/load');

// Distinctive ES5+ method names (generic ones such as `at`, `keys` or `create` are caught by the VM realm the
// library tests run in, which has none of them) and ES5+ statics by their owner.
const FORBIDDEN_METHODS = new Set(['forEach', 'map', 'filter', 'reduce', 'reduceRight', 'some', 'every', 'find',
  'findIndex', 'includes', 'trim', 'trimStart', 'trimEnd', 'trimLeft', 'trimRight', 'startsWith', 'endsWith',
  'repeat', 'padStart', 'padEnd', 'codePointAt', 'normalize', 'replaceAll', 'bind', 'flatMap', 'toISOString']);
const FORBIDDEN_STATICS = { Object: new Set(NOT_IN_ES3.Object), Array: new Set(NOT_IN_ES3.Array),
  Date: new Set(NOT_IN_ES3.Date) };

function jsxFiles(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...jsxFiles(full));
    else if (/\.(jsx|jsxinc)$/.test(entry.name)) out.push(full);
  }
  return out.sort();
}

function parseES3(source, file) {
  return acorn.parse(source, { ecmaVersion: 3, allowReserved: 'never', sourceType: 'script', locations: true,
    sourceFile: file });
}

/** [{name, line}] of forbidden identifiers/members in an AST. */
function es5Uses(ast) {
  const found = [];
  (function walk(node) {
    if (!node || typeof node.type !== 'string') return;
    if (node.type === 'Identifier' && node.name === 'JSON') found.push({ name: 'JSON', line: node.loc.start.line });
    // members of the library's own namespace (L.trim, L.keys, L.indexOf) are its ES3 replacements
    const ownHelper = node.type === 'MemberExpression' && node.object.type === 'Identifier' && node.object.name === 'L';
    if (node.type === 'MemberExpression' && !node.computed && !ownHelper) {
      const name = node.property.name;
      const owner = node.object.type === 'Identifier' ? FORBIDDEN_STATICS[node.object.name] : undefined;
      if (FORBIDDEN_METHODS.has(name) || (owner && owner.has(name))) {
        found.push({ name, line: node.loc.start.line });
      }
    }
    for (const key of Object.keys(node)) {
      const value = node[key];
      if (Array.isArray(value)) value.forEach(walk);
      else if (value && typeof value.type === 'string') walk(value);
    }
  }(ast));
  return found;
}

const FILES = jsxFiles(JSX_DIR);

test('there are panel files to check', () => {
  assert.ok(FILES.some((f) => f.endsWith('aefarm_panel.jsx')));
  assert.ok(FILES.filter((f) => f.endsWith('.jsxinc')).length >= LIB_FILES.length);
});

for (const file of FILES) {
  test(`${path.relative(JSX_DIR, file)} parses as ECMAScript 3 and uses no ES5+ library call`, () => {
    const source = fs.readFileSync(file, 'utf8');
    const ast = parseES3(source, file);
    assert.deepEqual(es5Uses(ast), [], `ES5+ calls in ${file}`);
  });
}

test('the ES3 check rejects newer syntax and ES5 calls (it can fail)', () => {
  for (const snippet of ['let x = 1;', 'const y = 2;', 'var f = (a) => a;', 'var s = `t`;', 'var o = {a: 1,};',
    'class A {}', 'var {a} = b;', 'function f(a = 1) {}', 'x.default = 1;', 'for (var k of y) {}']) {
    assert.throws(() => parseES3(snippet, 'snippet'), SyntaxError, snippet);
  }
  const uses = es5Uses(parseES3('a.forEach(f); var t = s.trim(); var j = JSON.parse(x); Object.keys(o); L.trim(t);', 's'));
  assert.deepEqual(uses.map((u) => u.name), ['forEach', 'trim', 'JSON', 'keys']);
});

test('the panel loads exactly the library files in the folder, in the tested order', () => {
  const panel = fs.readFileSync(path.join(JSX_DIR, 'aefarm_panel.jsx'), 'utf8');
  const m = /var LIB = \[([^\]]*)\]/.exec(panel);
  assert.ok(m, 'the panel lists its library files in `var LIB = [...]`');
  const listed = m[1].split(',').map((s) => s.trim().replace(/^"|"$/g, ''));
  assert.deepEqual(listed, LIB_FILES);
  const present = fs.readdirSync(LIB_DIR).filter((f) => f.endsWith('.jsxinc')).map((f) => f.replace(/\.jsxinc$/, ''));
  assert.deepEqual([...present].sort(), [...LIB_FILES].sort());
});
