// src/core is plain Node: the CLI, the worker threads and the benchmarks load it without VS Code. An import of
// `vscode` there would load in the editor and fail everywhere else, so every file is checked.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

const CORE = path.resolve(__dirname, '../../src/core');
const VSCODE_IMPORT = /\bfrom\s*['"]vscode['"]|\brequire\(\s*['"]vscode['"]\s*\)|\bimport\(\s*['"]vscode['"]\s*\)|^\s*import\s*['"]vscode['"]/m;

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

test('the pattern finds every way of importing vscode', () => {
  for (const line of ["import * as vscode from 'vscode';", 'import type { Uri } from "vscode";', "const v = require('vscode');",
    "const v = await import('vscode');", "import 'vscode';"]) {
    assert.match(line, VSCODE_IMPORT);
  }
  assert.doesNotMatch("import { x } from './vscodeLike';", VSCODE_IMPORT);
});

test('no file in src/core imports vscode', () => {
  const files = tsFiles(CORE);
  assert.ok(files.length > 50, `only ${files.length} files found under ${CORE}`);
  const importing = files.filter((f) => VSCODE_IMPORT.test(fs.readFileSync(f, 'utf8'))).map((f) => path.relative(CORE, f));
  assert.deepEqual(importing, []);
});
