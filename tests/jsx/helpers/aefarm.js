'use strict';
// Where the real aefarm, aerender-sim and Python of this worktree's virtual environment are, and a writer for a
// project the aerender simulator renders with several render-queue items.
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const { spawnSync } = require('node:child_process');
const { ROOT } = require('./load');

const BIN = process.env.AEFARM_VENV_BIN || path.join(ROOT, '.venv', 'bin');
const AEFARM = path.join(BIN, 'aefarm');
const AERENDER_SIM = path.join(BIN, 'aerender-sim');
const PYTHON = path.join(BIN, 'python');

function requireVenv() {
  for (const exe of [AEFARM, AERENDER_SIM, PYTHON]) {
    if (!fs.existsSync(exe)) {
      throw new Error(`${exe} is missing: run 'bash .ci/setup' (or set AEFARM_VENV_BIN)`);
    }
  }
}

function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * Write an .aepx with `comps` and one render-queue item per comp (sample_project writes one item; the simulator
 * renders queue item k with the k-th comp), using aefarm's own sample project writer.
 */
function writeQueueProject(file, comps, footage = []) {
  requireVenv();
  const code = [
    'import json, sys',
    'from engines.aftereffects.sample_project import sample_project_text',
    'comps, footage, out = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]',
    'text = sample_project_text(footage=footage, comps=comps, output_folder="/tmp/")',
    'start = text.index("\\t\\t<LItm>")',
    'end = text.index("\\t\\t</LItm>\\n") + len("\\t\\t</LItm>\\n")',
    'text = text[:end] + text[start:end] * (len(comps) - 1) + text[end:]',
    'with open(out, "wb") as handle:  # a test fixture: written once, before anything reads it',
    '    handle.write(text.encode("utf-8"))',
  ].join('\n');
  const r = spawnSync(PYTHON, ['-c', code, JSON.stringify(comps), JSON.stringify(footage), file],
    { encoding: 'utf8', cwd: ROOT });
  if (r.status !== 0) throw new Error(`writing ${file} failed: ${r.stderr}`);
  return file;
}

module.exports = { BIN, AEFARM, AERENDER_SIM, PYTHON, requireVenv, tempDir, writeQueueProject };
