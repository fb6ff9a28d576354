'use strict';
// Seeded pseudo-random values for property tests (mulberry32): a failing case prints its seed and index.

function rng(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// what breaks shells and command lines: quotes, expansions, separators, escapes, globbing, whitespace,
// Windows' % ^ ! and backslash-before-quote, options that look like flags, non-ASCII (Latin, CJK, emoji)
const HOSTILE = ['\'', '"', '$', '`', '\\', '!', '&', ';', '|', '<', '>', '(', ')', '*', '?', '[', ']', '{', '}',
  '~', '#', '%', '^', ' ', '\t', '=', ',', '-', '--', '$HOME', '%PATH%', '%%', '!x!', '\\"', '\\\\"', '\\\\',
  '$(id)', '`id`', '&&', '||', '^"', 'é', 'Ünï', '漢字', '😀', 'a', 'Z', '0', '/', ':', '@', '+', '.', '\u00a0'];

function hostileString(next, { newlines = true, maxParts = 8 } = {}) {
  const parts = [];
  const n = Math.floor(next() * (maxParts + 1));
  for (let i = 0; i < n; i++) {
    parts.push(HOSTILE[Math.floor(next() * HOSTILE.length)]);
    if (newlines && next() < 0.04) parts.push(next() < 0.5 ? '\n' : '\r\n');
  }
  return parts.join('');
}

module.exports = { rng, hostileString, HOSTILE };
