// A Toy Fine-tune run end to end on the real stories260K model: the probe before and after, the messages the
// view folds into its snapshot, and an extension host that stays responsive while the worker trains.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { importLlama2c } from '../../src/core/importers/llama2c';
import { CHECKPOINT_FILE } from '../../src/core/trainer/checkpoint';
import { FineTuneJob, inspectFile, saveModel, tokenLensFolderProblem } from '../../src/extension/fineTuneJob';
import { DEFAULT_PROBE, defaultSettings, emptyRun, foldRun, type FineTuneHostToView, isActive, type ProbeResult, probeFromText,
  validateFineTuneMessage } from '../../src/protocol/finetune';

const shared = join(__dirname, '../../vendor/stories260K');
const dir = mkdtempSync(join(tmpdir(), 'finetune-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
// The worker runs the TypeScript entry through tsx, as the bundle would run dist/trainerWorker.js.
const workerEntry = resolve(__dirname, '../../src/core/trainer/worker.ts');
const createWorker = () => new Worker(`require('tsx/cjs'); require(${JSON.stringify(workerEntry)});`, { eval: true });

async function stories(): Promise<string> {
  const folder = join(dir, 'stories260K');
  if (!existsSync(folder)) {
    await importLlama2c({ checkpoint: join(shared, 'stories260K.bin'), tokenizer: join(shared, 'tok512.bin'), out: folder });
  }
  return folder;
}

test('fine-tuning stories260K on one sentence: the probe shows " Zoo" rise to the top, and the view folds every message', async () => {
  const base = await stories();
  assert.equal(tokenLensFolderProblem(base), undefined);
  const file = join(dir, 'zoo.txt');
  writeFileSync(file, 'Once upon a time, there was a little girl named Zoo.\n');
  const messages: FineTuneHostToView[] = [];
  const job = new FineTuneJob({ file, out: join(dir, 'zoo-out'), from: base, settings: { ...defaultSettings('current'), steps: 40 },
    cacheDir: join(dir, 'cache'), threads: 1, createWorker }, (m) => messages.push(m));
  const result = await job.done;
  assert.equal(result?.status, 'done', JSON.stringify(messages.filter((m) => m.type === 'failed')));
  const probes = messages.filter((m) => m.type === 'probe');
  assert.deepEqual(probes.map((p) => p.phase), ['before', 'after']);
  const [before, after] = probes.map((p) => p.probe);
  // The pretrained model has its own idea of the name; after training the target leads.
  assert.ok(before.targetRank! > 1, `before: rank ${before.targetRank}`);
  assert.equal(after.targetRank, 1);
  assert.ok(after.targetProb! > 0.5 && after.targetProb! > before.targetProb!);
  assert.equal(after.top[0].text, after.targetTokens[0]);
  assert.notEqual(before.top[0].text, before.targetTokens[0]);
  // stories260K spells " Zoo" as three tokens, " ", "Z", "oo": the target's probability is their product.
  assert.equal(before.targetTokens.join(''), ' Zoo');
  assert.ok(before.targetTokens.length > 1 && before.targetProb! < before.firstProb!);
  // The per-token losses cover prompt + target, the target's tokens are marked, and their loss fell.
  // (SentencePiece adds a space before the first word.)
  assert.equal(before.tokens.map((t) => t.text).join('').replace('<s>', '').trimStart(), before.prompt + before.target);
  const targetLoss = (p: typeof before) => p.tokens.filter((t) => t.target).reduce((s, t) => s + t.loss!, 0);
  assert.ok(targetLoss(after) < targetLoss(before) / 4, `${targetLoss(before)} -> ${targetLoss(after)}`);
  assert.ok(after.meanLoss < before.meanLoss);

  // Every message folds; the snapshot ends finished with one train point per step.
  let run = foldRun(emptyRun(), { type: 'runStarting', settings: defaultSettings('current'), fileName: 'zoo.txt', steps: 40 });
  for (const m of messages) run = foldRun(run, m);
  assert.equal(run.phase, 'finished');
  assert.equal(run.train.length, 40);
  assert.deepEqual(run.train.map((p) => p.step), Array.from({ length: 40 }, (_, i) => i + 1));
  assert.ok(run.val.length >= 1 && run.val.at(-1)!.step === 40);
  assert.equal(run.batch, 8);
  assert.ok(run.before && run.after && run.result?.exported);

  // The compare lens, before (A) against after (B): on the whole probe text the target's tokens got cheaper
  // (the same numbers the probes report), and on held-out text the fine-tune changed the model too.
  const comparison = messages.find((m) => m.type === 'comparison');
  assert.ok(comparison && comparison.type === 'comparison');
  assert.deepEqual(run.comparison, { probe: comparison.probe, heldOut: comparison.heldOut });
  const { probe: onProbe, heldOut } = comparison;
  assert.equal(onProbe.text, before.prompt + before.target);
  assert.equal(onProbe.sameTokenizer, true);
  const zoo = onProbe.tokens.filter((t) => t.start >= before.prompt.length);
  assert.equal(zoo.map((t) => onProbe.text.slice(t.start, t.end)).join(''), ' Zoo');
  assert.ok(Math.abs(zoo.reduce((s, t) => s + t.lossA!, 0) - targetLoss(before)) < 1e-4);
  assert.ok(Math.abs(zoo.reduce((s, t) => s + t.lossB!, 0) - targetLoss(after)) < 1e-4);
  assert.ok(zoo.every((t) => t.lossB! < t.lossA!), 'every token of the target is predicted better after');
  assert.ok(onProbe.meanKl! > 0.01 && onProbe.meanLossB < onProbe.meanLossA);
  // The file is one sentence: the held-out text is the story outside it. The run moved those predictions too.
  assert.match(heldOut.source, /short story outside the training file/);
  assert.ok(heldOut.tokens.length > 30 && heldOut.meanKl! > 0, `held-out KL ${heldOut.meanKl}`);
  assert.ok(heldOut.top1Agreement! < 1 || heldOut.meanLossB !== heldOut.meanLossA);

  // Saving copies the model without the trainer's checkpoint.
  const saved = join(dir, 'saved');
  await saveModel(join(dir, 'zoo-out'), saved);
  assert.ok(readdirSync(join(dir, 'zoo-out')).includes(CHECKPOINT_FILE));
  assert.ok(!readdirSync(saved).includes(CHECKPOINT_FILE));
  assert.equal(tokenLensFolderProblem(saved), undefined);
});

test('LoRA (rank 4) on stories260K also puts the target first', async () => {
  const base = await stories();
  const probes: ProbeResult[] = [];
  const job = new FineTuneJob({ file: join(dir, 'zoo.txt'), out: join(dir, 'lora-out'), from: base,
    settings: { ...defaultSettings('current'), mode: 'lora', loraRank: 4, lr: 1e-2, steps: 40 }, cacheDir: join(dir, 'cache'),
    threads: 1, createWorker }, (m) => { if (m.type === 'probe') probes.push(m.probe); });
  assert.equal((await job.done)?.status, 'done');
  assert.ok(probes[0].targetRank! > 1);
  assert.equal(probes[1].targetRank, 1);
  assert.ok(probes[1].targetProb! > 0.5);
});

// A toy step takes 100+ ms here: training on this thread would put every step's time into the delay. The bounds leave
// room for the scheduling noise of a shared 2-core machine.
test('the host stays responsive while the worker trains (event-loop delay p50 under 20 ms, p99 under 75 ms)', async () => {
  const file = join(dir, 'rhyme.txt');
  writeFileSync(file, 'Twinkle, twinkle, little star, how I wonder what you are!\n'.repeat(40));
  const h = monitorEventLoopDelay({ resolution: 5 });
  let steps = 0;
  const job = new FineTuneJob({ file, out: join(dir, 'toy-out'), settings: { ...defaultSettings('toy'), steps: 60 },
    cacheDir: join(dir, 'cache'), threads: 1, createWorker }, (m) => {
    // Only the training counts: the probes run the model on this thread by design.
    if (m.type === 'started') h.enable();
    if (m.type === 'progress') steps = m.step;
    if (m.type === 'probing' || m.type === 'failed') h.disable();
  });
  const result = await job.done;
  assert.equal(result?.status, 'done');
  assert.equal(steps, 60);
  const p99 = h.percentile(99) / 1e6;
  assert.ok(h.count > 50, `${h.count} samples`);
  assert.ok(h.percentile(50) / 1e6 < 20, `event-loop delay p50 ${(h.percentile(50) / 1e6).toFixed(1)} ms while training`);
  assert.ok(p99 < 75, `event-loop delay p99 ${p99.toFixed(1)} ms while training`);
  console.log(`event-loop delay while training: p50 ${(h.percentile(50) / 1e6).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${(h.max / 1e6).toFixed(1)} ms`);
});

test('stop during training ends the run early with the model so far; refusals come back as a failed run', async () => {
  const file = join(dir, 'rhyme.txt');
  const messages: FineTuneHostToView[] = [];
  const job: FineTuneJob = new FineTuneJob({ file, out: join(dir, 'stop-out'), settings: { ...defaultSettings('toy'), steps: 5000 },
    cacheDir: join(dir, 'cache'), threads: 1, createWorker }, (m) => {
    messages.push(m);
    if (m.type === 'progress' && m.step === 3) job.stop();
  });
  const result = await job.done;
  assert.equal(result?.status, 'stopped');
  assert.ok(result!.step >= 3 && result!.step < 20, `stopped at ${result!.step}`);
  assert.ok(messages.some((m) => m.type === 'probe' && m.phase === 'after'), 'the stopped model is probed too');

  const binary = join(dir, 'blob.bin');
  writeFileSync(binary, Uint8Array.from([1, 2, 0, 3]));
  const failed: FineTuneHostToView[] = [];
  const bad = new FineTuneJob({ file: binary, out: join(dir, 'bad-out'), settings: defaultSettings('toy'),
    cacheDir: join(dir, 'cache'), threads: 1, createWorker }, (m) => failed.push(m));
  assert.equal(await bad.done, null);
  assert.match(JSON.stringify(failed.at(-1)), /"failed".*binary/);
});

test('the view\'s start message is validated field by field', () => {
  const start = { type: 'start', settings: defaultSettings('toy') };
  assert.deepEqual(validateFineTuneMessage(start), start);
  for (const type of ['ready', 'useActiveFile', 'pickFile', 'pickFolder', 'stop', 'pause', 'resume', 'save', 'explain']) {
    assert.deepEqual(validateFineTuneMessage({ type }), { type });
  }
  const bad = (settings: Record<string, unknown>) => validateFineTuneMessage({ type: 'start', settings: { ...defaultSettings('toy'), ...settings } });
  assert.match(String(bad({ base: '/etc' })), /base: must be one of/);
  assert.match(String(bad({ steps: 0 })), /settings\.steps: Steps must be from 1 to 100,000 \(got 0\)/);
  assert.match(String(bad({ steps: 1.5 })), /Steps must be a whole number from 1 to 100,000/);
  // Out-of-range learning rates are refused with the allowed range, never replaced by another value.
  for (const lr of [1e6, 5, -1, 0]) assert.match(String(bad({ lr })), new RegExp(`settings\\.lr: Learning rate must be from 0\\.000001 to 1 \\(got ${lr}\\)`));
  assert.match(String(bad({ lr: Number.NaN })), /Learning rate must be a number from 0.000001 to 1\./);
  assert.equal(validateFineTuneMessage({ type: 'start', settings: { ...defaultSettings('toy'), lr: 1 } }) instanceof Error, false);
  assert.match(String(bad({ optimizer: 'adam' })), /optimizer/);
  assert.match(String(bad({ prompt: '' })), /prompt: must have 1/);
  assert.match(String(bad({ out: '/tmp/x' })), /unexpected field "out"/);
  assert.match(String(validateFineTuneMessage({ type: 'stop', now: true })), /unexpected field/);
  assert.match(String(validateFineTuneMessage({ type: 'start' })), /settings: must be an object/);
  assert.match(String(validateFineTuneMessage({ type: 'rm -rf' })), /unknown message type/);
  assert.match(String(validateFineTuneMessage(null)), /must be an object/);
});

test('files are checked before a worker starts: binary, empty, folders and missing files are refused', () => {
  const fileProblem = (file: string) => inspectFile(file).problem;
  const write = (name: string, data: string | Uint8Array) => { const p = join(dir, name); writeFileSync(p, data); return p; };
  assert.equal(fileProblem(write('ok.txt', 'hello\n')), undefined);
  assert.match(fileProblem(write('b.bin', Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, 0, 1])))!, /binary/);
  assert.match(fileProblem(write('e.txt', ''))!, /empty/);
  // One character leaves nothing to predict: refused before Start, not by the trainer after it.
  assert.match(fileProblem(write('one.txt', 'a'))!, /only one character: training needs at least two/);
  assert.match(fileProblem(write('one-emoji.txt', '\u{1F600}'))!, /only one character/);
  assert.equal(fileProblem(write('two.txt', 'ab')), undefined);
  assert.match(fileProblem(dir)!, /folder/);
  assert.match(fileProblem(join(dir, 'nope.txt'))!, /does not exist/);
  assert.match(tokenLensFolderProblem(dir)!, /not a model folder/);
});

/** Runs a job to its end, collecting its messages; `onMessage` may act on the job (stop, pause) as a user would. */
async function collect(spec: Omit<ConstructorParameters<typeof FineTuneJob>[0], 'cacheDir' | 'threads' | 'createWorker'>,
  onMessage: (m: FineTuneHostToView, job: () => FineTuneJob) => void = () => undefined) {
  const messages: FineTuneHostToView[] = [];
  // The job posts its first message from its constructor, before `job` is assigned: a handler reaches it later.
  let job: FineTuneJob | undefined;
  job = new FineTuneJob({ ...spec, cacheDir: join(dir, 'cache'), threads: 1, createWorker }, (m) => {
    messages.push(m);
    onMessage(m, () => job!);
  });
  const result = await job.done;
  let run = foldRun(emptyRun(), { type: 'runStarting', settings: spec.settings, fileName: 'x', steps: spec.settings.steps });
  for (const m of messages) run = foldRun(run, m);
  return { result, messages, run };
}

test('Stop while a preset initialises ends the run (nothing exported, no folder left), and the next Start trains', async () => {
  const file = join(dir, 'rhyme.txt');
  writeFileSync(file, 'Twinkle, twinkle, little star, how I wonder what you are!\n'.repeat(40));
  const out = join(dir, 'init-stop');
  for (const settings of [{ ...defaultSettings('toy'), steps: 20 }, { ...defaultSettings('nanogpt-cpu'), steps: 20 }]) {
    // Stop a moment after initialisation began, while the zero-step worker is busy.
    const t0 = Date.now();
    const { result, messages, run } = await collect({ file, out, settings }, (m, job) => {
      if (m.type === 'busy' && m.message.startsWith('Initialising')) setTimeout(() => job().stop(), 30);
    });
    assert.deepEqual(result, { status: 'stopped', message: 'Stopped before training started: nothing was trained.', step: 0, loss: null,
      valLoss: null, exported: false });
    assert.equal(messages.at(-1)?.type, 'finished', 'the run ends with a message the view folds');
    assert.equal(run.phase, 'finished');
    assert.equal(isActive(run.phase), false, 'the view unlocks');
    assert.ok(!messages.some((m) => m.type === 'probe' || m.type === 'started'), 'nothing ran after the stop');
    assert.ok(!existsSync(`${out}-start`), `${out}-start is left behind`);
    assert.ok(!existsSync(out), 'no model was written');
    console.log(`${settings.base}: stopped during initialisation, ended after ${Date.now() - t0} ms`);
  }
  const again = await collect({ file, out, settings: { ...defaultSettings('toy'), steps: 5 } });
  assert.equal(again.result?.status, 'done');
  assert.equal(again.run.phase, 'finished');
  assert.ok(again.run.result?.exported && existsSync(join(out, 'onnx', 'model.onnx')));
  assert.ok(!existsSync(`${out}-start`));
});

test('Stop before the first step: no untrained copy is exported or offered', async () => {
  const base = await stories();
  const out = join(dir, 'step0');
  const file = join(dir, 'zoo.txt');
  writeFileSync(file, 'Once upon a time, there was a little girl named Zoo.\n');
  const { result, messages, run } = await collect({ file, out, from: base, settings: { ...defaultSettings('current'), steps: 40 } },
    (m, job) => { if (m.type === 'busy' && m.message.startsWith('Starting the trainer')) job().stop(); });
  assert.equal(result?.status, 'stopped');
  assert.equal(result?.step, 0);
  assert.equal(result?.exported, false, 'a copy of the starting model was exported');
  assert.match(result!.message, /Stopped at step 0\. Nothing was trained, so no model was written\./);
  assert.ok(!existsSync(join(out, 'onnx', 'model.onnx')));
  assert.ok(!messages.some((m) => m.type === 'probe' && m.phase === 'after'));
  assert.equal(run.result?.exported, false, 'the view offers neither Save nor Explain');
});

test('a learning rate that blows the loss up (AdamW, lr 1) finishes with a warning, not as a plain success', async () => {
  const { result, messages } = await collect({ file: join(dir, 'rhyme.txt'), out: join(dir, 'blow-up'),
    settings: { ...defaultSettings('toy'), steps: 60, lr: 1 } });
  const losses = messages.flatMap((m) => (m.type === 'progress' ? [m.loss] : []));
  assert.equal(result?.status, 'done');
  assert.ok(Math.max(...losses) > 10 * losses[0], `the loss never spiked: ${losses.map((l) => l.toFixed(1)).join(' ')}`);
  assert.match(result!.warning ?? '', /^The loss ended at [\d.]+, far above where it started \([\d.]+\): training blew up\. Try a lower learning rate \(now 1\)\.$/);
  const finished = messages.at(-1);
  assert.ok(finished?.type === 'finished' && finished.result.warning === result!.warning, 'the warning reaches the view');

  // A healthy run on the same file carries no warning.
  const calm = await collect({ file: join(dir, 'rhyme.txt'), out: join(dir, 'calm'), settings: { ...defaultSettings('toy'), steps: 60 } });
  assert.equal(calm.result?.status, 'done');
  assert.equal(calm.result?.warning, undefined);
});

test('a character model shows probe characters the file never had as <unk>, and says so', async () => {
  const file = join(dir, 'no-capitals.txt');
  writeFileSync(file, 'nce upon a time, there was a little girl named ia.\n'.repeat(30));
  const { result, messages } = await collect({ file, out: join(dir, 'unk-out'), settings: { ...defaultSettings('toy'), steps: 3, target: ' Mia' } });
  assert.equal(result?.status, 'done');
  const before = messages.find((m) => m.type === 'probe' && m.phase === 'before');
  assert.ok(before?.type === 'probe');
  const p = before.probe;
  // One token per character: "O" and "M" are not dropped but read as the unknown token.
  assert.equal(p.tokens.map((t) => t.text).join(''), `<unk>${DEFAULT_PROBE.prompt.slice(1)} <unk>ia`);
  assert.deepEqual(p.targetTokens, [' ', '<unk>', 'i', 'a']);
  assert.equal(p.note, 'The training file never contains "M", "O": the model reads them as the unknown token <unk>.');
});

test('the probe comes from the training file: a story line, a line of code', () => {
  assert.deepEqual(probeFromText('Once upon a time, there was a little girl named Zoo.\nShe liked cake.\n'), DEFAULT_PROBE);
  const code = "// @ts-check\nimport { readFileSync } from 'node:fs';\nconst text = readFileSync(process.argv[2], 'utf8');\n";
  // The first line with a word after some context: a comment too short for one is skipped.
  assert.deepEqual(probeFromText(code), { prompt: 'import { readFileSync }', target: ' from' });
  assert.equal(probeFromText('x\ny\n'), null);
  const write = (name: string, data: string) => { const p = join(dir, name); writeFileSync(p, data); return p; };
  assert.deepEqual(inspectFile(write('code.ts', code)), { probe: { prompt: 'import { readFileSync }', target: ' from' } });
  assert.deepEqual(inspectFile(write('bin.dat', '\u0000\u0001')).probe, null);
});

test('a GGUF model (llama.cpp) is refused as a starting point with the engine note, not as "not a folder"', () => {
  for (const ref of ['/models/stories260K.gguf', 'ollama:llama3.2:1b']) {
    assert.equal(tokenLensFolderProblem(ref), 'llama.cpp models cannot be fine-tuned here: fine-tuning starts from a Token Lens model folder.');
  }
});
