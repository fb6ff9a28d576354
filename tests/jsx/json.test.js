'use strict';
// The panel's JSON (ExtendScript has no JSON object): strict parsing checked against Node's JSON, ASCII output.
const test = require('node:test');
const assert = require('node:assert/strict');
const { loadLib, plain } = require('./helpers/load');
const { rng, hostileString } = require('./helpers/random');

const L = loadLib();

function randomValue(next, depth) {
  const kind = Math.floor(next() * (depth > 3 ? 5 : 7));
  switch (kind) {
    case 0: return null;
    case 1: return next() < 0.5;
    case 2: return [0, -1, 1.5, -0.25, 1e21, 123456789, 2e-7, Math.floor(next() * 1e6) - 5e5][Math.floor(next() * 8)];
    case 3: return hostileString(next) + String.fromCharCode(Math.floor(next() * 32));
    case 4: return hostileString(next);
    case 5: return Array.from({ length: Math.floor(next() * 4) }, () => randomValue(next, depth + 1));
    default: {
      const out = {};
      for (let i = Math.floor(next() * 4); i > 0; i--) out[hostileString(next, { maxParts: 3 })] = randomValue(next, depth + 1);
      return out;
    }
  }
}

test('parse and stringify round-trip random values against Node\'s JSON', () => {
  const next = rng(15);
  for (let i = 0; i < 400; i++) {
    const value = randomValue(next, 0);
    const text = JSON.stringify(value, null, i % 2 ? 2 : 0);
    assert.deepEqual(plain(L.jsonParse(text)), value, `case ${i}: ${text}`);
    const ours = L.jsonStringify(value, i % 3 ? '  ' : '');
    assert.match(ours, /^[\x20-\x7e\n]*$/, `case ${i}: output is printable ASCII`);
    assert.deepEqual(JSON.parse(ours), value, `case ${i}: ${ours}`);
  }
});

test('surrogate pairs and escapes decode to the same string as Node', () => {
  for (const text of ['"\\ud83d\\ude00"', '"😀"', '"\\u00e9\\t\\n\\/\\\\\\""', '"\\u0000"', '"\\u2028"']) {
    assert.equal(L.jsonParse(text), JSON.parse(text));
  }
});

test('anything that is not strict JSON is refused with a position, as Node refuses it', () => {
  const bad = ['', '{', '[1,]', '{"a":1,}', '{\'a\':1}', '01', '1.', '.5', '+1', '"\\x"', '"a\nb"', 'tru', '1 2',
    'NaN', 'Infinity', '[1 2]', '{"a" 1}', '{1:2}', '"\\u12"', 'undefined', '// c\n1', '[', '"unterminated'];
  for (const text of bad) {
    assert.throws(() => JSON.parse(text), SyntaxError, `Node accepts ${JSON.stringify(text)}`);
    assert.throws(() => L.jsonParse(text), (e) => e.aefarm === true && /bad JSON at character \d+/.test(e.message),
      JSON.stringify(text));
  }
});

test('a run report as aefarm writes it parses', () => {
  const report = { ok: false, cancelled: false, missing: '5-8', missing_count: 4, summary: 'rendered 4 of 8',
    chunks: [{ chunk: 1, reason: 'aerender exited 1', frame_times: { 1: { at: 1796075260.3409138 } } }],
    output: '/out/Ünï/x_[####].png', plan: { explanation: ['cpu limit: 2'] } };
  assert.deepEqual(plain(L.jsonParse(JSON.stringify(report, null, 2))), report);
});

test('stringify drops functions and undefined members and writes non-finite numbers as null', () => {
  assert.equal(L.jsonStringify({ a: undefined, b() {}, c: Infinity, d: [NaN] }), '{"c":null,"d":[null]}');
});
