'use strict';
// Quoting: the argv a program receives equals the argv the panel meant, for hostile comp names, paths and frame
// specs. POSIX lines run through the real /bin/sh; cmd.exe batch lines are checked by a table of exact lines
// and by a model of cmd's two stages (batch %-expansion and ^-escapes, then the MSVC argv splitter).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { loadLib, plain } = require('./helpers/load');
const { rng, hostileString } = require('./helpers/random');
const fake = require('./helpers/fake_ae');
const { PYTHON, tempDir, requireVenv } = require('./helpers/aefarm');

const L = loadLib();

// ------------------------------------------------------------------------------------------------ POSIX sh
test('POSIX: 600 random hostile argv arrive intact through /bin/sh', () => {
  const next = rng(1);
  const cases = Array.from({ length: 600 }, () => Array.from({ length: 1 + Math.floor(next() * 4) },
    () => hostileString(next)));
  // one sh run: each line passes the words to printf, which prints its argv count, then each argument, NUL-ended
  const script = cases.map((argv) => L.commandLine(['printf', '%s\\0', String(argv.length), ...argv], 'sh'))
    .join('\n');
  const r = spawnSync('/bin/sh', ['-c', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const fields = r.stdout.split('\0');
  let at = 0;
  cases.forEach((argv, i) => {
    const count = Number(fields[at++]);
    const got = fields.slice(at, at + count);
    at += count;
    assert.deepEqual(got, argv, `case ${i}: ${L.commandLine(argv, 'sh')}`);
  });
});

test('POSIX: a step script run by callSystem gives a real program the exact argv (non-ASCII bytes too)', () => {
  requireVenv();
  const dir = tempDir('aefarm-quote-');
  const system = fake.makeSystem();
  const ctx = { os: 'posix', io: null, callSystem: system.callSystem };
  const io = loadLib(fake.aeGlobals({ app: {}, system })).fileIO();
  ctx.io = io;
  const next = rng(2);
  const printer = 'import sys, json; sys.stdout.write(json.dumps(sys.argv[1:]))';
  for (let i = 0; i < 12; i++) {
    const argv = [hostileString(next), `comp ${hostileString(next)}`, `/out/${hostileString(next)}/f_[####].png`,
      '1-100x5, 200', '', 'Ünï \'q\' "d" $HOME `id` 100% ^ & |'];
    const result = L.runStep(ctx, dir, `step${i}`, [PYTHON, '-c', printer, ...argv]);
    assert.equal(result.ok, true, result.message);
    assert.deepEqual(JSON.parse(result.out), argv, `case ${i}`);
  }
});

test('POSIX: a NUL byte is refused with a clear message', () => {
  assert.throws(() => L.commandLine(['aefarm', 'a\u0000b'], 'sh'), (e) => e.aefarm && /NUL/.test(e.message));
});

// ------------------------------------------------------------------------------------------------ cmd.exe
// Exact batch lines (each hand-checked against the rules in quote.jsxinc: MSVC quoting first, then ^ before
// & | < > ( ) " ! ^ and % doubled).
const CMD_TABLE = [
  [['aefarm', 'render'], '"aefarm" render'],
  [['C:\\Program Files\\aefarm\\aefarm.exe', 'x'], '"C:\\Program Files\\aefarm\\aefarm.exe" x'],
  [['C:\\100%\\aefarm.exe'], '"C:\\100%%\\aefarm.exe"'],
  [['a', 'My Comp'], '"a" ^"My Comp^"'],
  [['a', ''], '"a" ^"^"'],
  [['a', '100%'], '"a" 100%%'],
  [['a', '%PATH%'], '"a" %%PATH%%'],
  [['a', '%%'], '"a" %%%%'],
  [['a', 'a"b'], '"a" ^"a\\^"b^"'],
  [['a', 'a\\"b'], '"a" ^"a\\\\\\^"b^"'],
  [['a', 'C:\\dir\\'], '"a" C:\\dir\\'],
  [['a', 'C:\\my dir\\'], '"a" ^"C:\\my dir\\\\^"'],
  [['a', 'a\\\\b c'], '"a" ^"a\\\\b c^"'],
  [['a', '&|<>()'], '"a" ^&^|^<^>^(^)'],
  [['a', 'x^'], '"a" x^^'],
  [['a', 'Hi!'], '"a" Hi^!'],
  [['a', '!x!'], '"a" ^!x^!'],
  [['a', 'é漢😀'], '"a" é漢😀'],
  [['a', '1-100x5, 200'], '"a" ^"1-100x5, 200^"'],
  [['a', 'Ti\'tle "$HOME" & 100%'], '"a" ^"Ti\'tle \\^"$HOME\\^" ^& 100%%^"'],
  [['a', '\t'], '"a" ^"\t^"'],
];

test('cmd.exe: batch lines by table', () => {
  for (const [argv, line] of CMD_TABLE) {
    assert.equal(L.commandLine(argv, 'cmd'), line, JSON.stringify(argv));
  }
});

test('cmd.exe: what a batch line cannot carry is refused with a clear message', () => {
  for (const arg of ['a\nb', 'a\r\nb', 'a\rb', 'a\u0000b']) {
    assert.throws(() => L.commandLine(['aefarm', arg], 'cmd'), (e) => e.aefarm && /line break|NUL/.test(e.message));
  }
  assert.throws(() => L.commandLine(['C:\\a"b\\aefarm.exe'], 'cmd'), (e) => e.aefarm && /double quote/.test(e.message));
});

/** Batch stage: %% -> %, a lone % (would expand) fails; ^x -> x; a bare quote toggles quote state; outside quotes
 * a bare & | < > ( ) fails (would split or redirect). Returns the text passed to the program after its name. */
function cmdBatchStage(line) {
  let expanded = '';
  for (let i = 0; i < line.length; i++) {
    if (line[i] !== '%') { expanded += line[i]; continue; }
    if (line[i + 1] !== '%') throw new Error(`lone % would expand: ${line}`);
    expanded += '%';
    i++;
  }
  let out = '';
  let quoted = false;
  for (let i = 0; i < expanded.length; i++) {
    const c = expanded[i];
    if (!quoted && c === '^') { out += expanded[++i]; continue; }
    if (c === '"') quoted = !quoted;
    if (!quoted && '&|<>()'.includes(c)) throw new Error(`bare ${c} would be a command separator: ${line}`);
    if (c === '!') { /* delayed expansion is off in the panel's batch files: literal */ }
    out += c;
  }
  if (quoted) throw new Error(`unbalanced quote: ${line}`);
  return out;
}

/** The MSVC / CommandLineToArgvW argument splitter (arguments after the program name). */
function msvcSplit(text) {
  const args = [];
  let i = 0;
  while (i < text.length) {
    while (text[i] === ' ' || text[i] === '\t') i++;
    if (i >= text.length) break;
    let arg = '';
    let quoted = false;
    while (i < text.length && (quoted || (text[i] !== ' ' && text[i] !== '\t'))) {
      let slashes = 0;
      while (text[i] === '\\') { slashes++; i++; }
      if (text[i] === '"') {
        arg += '\\'.repeat(Math.floor(slashes / 2));
        if (slashes % 2) { arg += '"'; } else { quoted = !quoted; }
        i++;
      } else {
        arg += '\\'.repeat(slashes);
        if (i < text.length && (quoted || (text[i] !== ' ' && text[i] !== '\t'))) { arg += text[i]; i++; }
      }
    }
    args.push(arg);
  }
  return args;
}

test('cmd.exe: the splitter model agrees with the table (sanity of the model itself)', () => {
  assert.deepEqual(msvcSplit('"a\\\\\\"b" c\\d "" "x y\\\\"'), ['a\\"b', 'c\\d', '', 'x y\\']);
  assert.throws(() => cmdBatchStage('"a" 100%'), /lone %/);
  assert.throws(() => cmdBatchStage('"a" x & y'), /separator/);
});

test('cmd.exe: 2000 random hostile argv survive the batch stage and the MSVC splitter', () => {
  const next = rng(3);
  for (let i = 0; i < 2000; i++) {
    const argv = Array.from({ length: 1 + Math.floor(next() * 4) }, () => hostileString(next, { newlines: false }));
    const line = L.commandLine(['C:\\Tools (x86)\\100% & more\\aefarm.exe', ...argv], 'cmd');
    const afterStage1 = cmdBatchStage(line);
    const program = '"C:\\Tools (x86)\\100% & more\\aefarm.exe"';
    assert.ok(afterStage1.startsWith(program + ' ') || afterStage1 === program, line);
    assert.deepEqual(msvcSplit(afterStage1.substring(program.length)), argv, `case ${i}: ${line}`);
  }
});

// ------------------------------------------------------------------------------------------------ PowerShell
test('PowerShell: single-quoted literals double every kind of single quote', () => {
  assert.equal(L.psQuote('C:\\a b\\run.cmd'), '\'C:\\a b\\run.cmd\'');
  assert.equal(L.psQuote('it\'s'), '\'it\'\'s\'');
  assert.equal(L.psQuote('\u2018x\u2019\u201a\u201b'), '\'\u2018\u2018x\u2019\u2019\u201a\u201a\u201b\u201b\'');
  assert.equal(L.psQuote('$env:PATH `n "q"'), '\'$env:PATH `n "q"\'');
});

test('PowerShell: -EncodedCommand carries the script as base64 UTF-16LE, non-ASCII included', () => {
  const script = 'Start-Process -FilePath \'C:\\Users\\Zoë\\Jobs (1)\\run.cmd\' -Wait; \'漢😀\'';
  const argv = plain(L.powershellArgv(script));
  assert.deepEqual(argv.slice(0, 6), ['powershell.exe', '-NoProfile', '-NonInteractive', '-ExecutionPolicy',
    'Bypass', '-EncodedCommand']);
  assert.equal(argv[6], Buffer.from(script, 'utf16le').toString('base64'));
  assert.match(argv[6], /^[A-Za-z0-9+/=]+$/); // nothing any shell would touch
});

test('UTF-8 encode/decode match Node for random text, and broken bytes become U+FFFD', () => {
  const next = rng(4);
  for (let i = 0; i < 300; i++) {
    const text = hostileString(next) + String.fromCodePoint(Math.floor(next() * 0x10ffff) & 0xd7ff);
    const bytes = L.utf8Encode(text);
    assert.equal(bytes, Buffer.from(text, 'utf8').toString('latin1'));
    assert.equal(L.utf8Decode(bytes), text);
  }
  assert.equal(L.utf8Decode('\xff'), '\ufffd');
  assert.equal(L.utf8Decode('a\xe2\x82'), 'a\ufffd\ufffd'); // a UTF-8 sequence cut by reading a file's tail
  assert.equal(L.utf8Decode('\xc0\xaf'), '\ufffd\ufffd'); // overlong
  assert.equal(L.base64('\x00\xff\x10a'), Buffer.from([0, 255, 16, 97]).toString('base64'));
});
