// Atomic writes: the order of fsyncs and renames, a write that fails half-way, and a process killed mid-write.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { type AtomicFs, writeFileAtomic } from '../../src/core/fsAtomic';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-atomic-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The real file system, with every call written down as `call target` (the temporary file shown as TMP). */
function recordingFs(calls: string[], target: string, failWrite = false): AtomicFs {
  const name = (p: string) => (p === target ? 'TARGET' : p === path.dirname(target) ? 'DIR' : p.startsWith(target) ? 'TMP' : p);
  return {
    async open(p, flags) {
      const h = await fsp.open(p, flags);
      calls.push(`open ${name(p)}`);
      return {
        async writeFile(data) {
          if (failWrite) {
            await h.writeFile(String(data).slice(0, 5));
            calls.push(`write ${name(p)} (fails)`);
            throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
          }
          await h.writeFile(data);
          calls.push(`write ${name(p)}`);
        },
        async sync() { await h.sync(); calls.push(`fsync ${name(p)}`); },
        async close() { await h.close(); calls.push(`close ${name(p)}`); },
      };
    },
    async rename(a, b) { await fsp.rename(a, b); calls.push(`rename ${name(a)} ${name(b)}`); },
    async rm(p, o) { await fsp.rm(p, o); calls.push(`rm ${name(p)}`); },
  };
}

test('the data is fsynced before the rename, and the folder before and after it', async () => {
  const target = path.join(tmp, 'seq.json');
  const calls: string[] = [];
  await writeFileAtomic(target, '{"a":1}', recordingFs(calls, target));
  assert.deepEqual(calls, [
    'open TMP', 'write TMP', 'fsync TMP', 'close TMP',
    'open DIR', 'fsync DIR', 'close DIR',
    'rename TMP TARGET',
    'open DIR', 'fsync DIR', 'close DIR',
  ]);
  assert.equal(fs.readFileSync(target, 'utf8'), '{"a":1}');
});

test('a write that fails half-way leaves the previous file whole and no temporary file behind', async () => {
  const target = path.join(tmp, 'keep.txt');
  fs.writeFileSync(target, 'the previous contents');
  const calls: string[] = [];
  await assert.rejects(writeFileAtomic(target, 'new contents that never arrive', recordingFs(calls, target, true)), /no space/);
  assert.equal(fs.readFileSync(target, 'utf8'), 'the previous contents');
  assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.startsWith('keep.txt')), ['keep.txt']);
  assert.ok(!calls.some((c) => c.startsWith('rename')), calls.join('\n'));
});

test('a process killed while writing never leaves a partial file', async () => {
  // The child rewrites one 8 MB file over and over, each version filled with its own byte; we kill it mid-stream.
  const target = path.join(tmp, 'big.bin');
  const size = 8 * 1024 * 1024;
  const script = `
    const { writeFileAtomic } = require(${JSON.stringify(path.resolve(__dirname, '../../src/core/fsAtomic.ts'))});
    (async () => { for (let v = 1; ; v++) { await writeFileAtomic(${JSON.stringify(target)}, new Uint8Array(${size}).fill(v % 256)); process.stdout.write('.'); } })();`;
  for (let round = 0; round < 3; round++) {
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let written = 0;
    await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => {
      written += d.length;
      // Kill at a different point of a write each round.
      if (written >= 2 + round) setTimeout(() => { child.kill('SIGKILL'); resolve(); }, 7 * round);
    }));
    await new Promise((r) => child.on('exit', r));
    const bytes = fs.readFileSync(target);
    assert.equal(bytes.length, size, `round ${round}: ${bytes.length} bytes`);
    assert.ok(bytes.every((b) => b === bytes[0]), `round ${round}: the file mixes two versions`);
  }
});
