// Token spans through the public path (ModelSession.load -> tokenize / analyze, and `explain --json`) for
// every tokenizer family: the text under each span is exactly what the token decodes to, decoded here
// from the tokenizer.json vocabulary (test/unit/spanCheck.ts), whatever character the text starts with.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { ModelSession } from '../../src/core/runtime/session';
import type { Token } from '../../src/core/types';
import { FAMILIES, type Family, writeFamilyModel } from './familyModels';
import { assertSpans, type SpanRules, vocabularyDecoder } from './spanCheck';
import { storyText, unicodeText } from './tokenizerArbitraries';
import { cliRunner } from './runCli';

const root = path.resolve(__dirname, '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-spans-'));
const sessions = new Map<Family, ModelSession>();
const folders = new Map<Family, string>();

const RULES: Record<Family, SpanRules> = {
  stories260K: { style: 'sentencepiece', dummyPrefix: true, nfc: false },
  gpt2: { style: 'byteLevel', dummyPrefix: false, nfc: false },
  llama2: { style: 'sentencepiece', dummyPrefix: true, nfc: false },
  llama3: { style: 'byteLevel', dummyPrefix: false, nfc: false },
  qwen3: { style: 'byteLevel', dummyPrefix: false, nfc: true },
};

/** A text starting with each kind of character, and "mom" on its second line. */
const FIRST_CHARACTERS: Record<string, string> = {
  letter: 'zxq mom\nmom went home',
  space: ' mom\nmom went home',
  digit: '42 moms\nmom went home',
  punctuation: '!? mom\nmom went home',
  hash: '# Title\nmom went home',
  brace: '{"mom": 1}\nmom went home',
  newline: '\nmom\nmom went home',
  tab: '\tmom\nmom went home',
  nonAscii: 'Ésope\nmom went home',
  cyrillic: 'ёж мом\nmom went home',
  cjk: '日本語\nmom went home',
  emoji: '😀 mom\nmom went home',
  combining: 'e\u0301te\nmom went home',
};

before(async () => {
  for (const family of FAMILIES) {
    const folder = await writeFamilyModel(family, tmp);
    folders.set(family, folder);
    sessions.set(family, await ModelSession.load(folder, { cacheDir: path.join(tmp, 'cache') }));
  }
});
after(async () => {
  for (const s of sessions.values()) await s.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function decoderOf(family: Family) {
  const tj = JSON.parse(fs.readFileSync(path.join(folders.get(family)!, 'tokenizer.json'), 'utf8'));
  return vocabularyDecoder(tj, RULES[family].style);
}

/** The tokenizer reads a lone surrogate as U+FFFD: compare the text as the tokenizer reads it. */
const asTokenizerReads = (s: string) => new TextDecoder().decode(new TextEncoder().encode(s));

for (const family of FAMILIES) {
  test(`${family}: spans of texts starting with every kind of character (tokenize and analyze)`, async () => {
    const session = sessions.get(family)!;
    const decode = decoderOf(family);
    for (const [kind, text] of Object.entries(FIRST_CHARACTERS)) {
      assert.doesNotThrow(() => assertSpans(text, session.tokenize(text), decode, RULES[family]), `${kind}`);
      const a = await session.analyze(text);
      assertSpans(text, a.tokens, decode, RULES[family]);
      // The hover's question: which token is under "mom" on line 2? One that lies on line 2.
      const mom = text.indexOf('\nmom went') + 2;
      const t = a.tokens[a.tokenIndexAt(mom)];
      assert.ok(t.start > text.indexOf('\nmom went') - 1 && t.end <= text.length && text.slice(t.start, t.end).includes('m'),
        `${family} ${kind}: the token under "mom" is ${JSON.stringify(t)}`);
    }
  });

  test(`${family}: property: spans of random text match the decoded tokens`, () => {
    const session = sessions.get(family)!;
    const decode = decoderOf(family);
    // Special tokens spelled out in the text, and a literal U+2581 in SentencePiece, are not text.
    const ordinary = (s: string) => !/<unk>|<s>|<\/s>|<\||\u2581/.test(s) && s.length > 0;
    for (const [arb, seed] of [[unicodeText, 11], [storyText, 12]] as const) {
      fc.assert(fc.property(arb.filter(ordinary), (text) => {
        const tokens = session.tokenize(text);
        assertSpans(asTokenizerReads(text), tokens, decode, RULES[family]);
        assert.equal(tokens.at(-1)!.end, text.length);
      }), { seed, numRuns: 150 });
    }
  });
}

const R = (f: string) => fs.readFileSync(path.join(root, f), 'utf8');

/** Long real texts of several kinds: prose, Markdown, JSON, code, digit runs, no spaces at all. */
function longTexts(): Record<string, string> {
  return {
    markdown: R('README.md'),
    // A committed JSON file (the manifest changes with every setting, and its density with it).
    json: JSON.stringify(JSON.parse(R('test/fixtures/hub/gpt2.lens.json'))),
    code: R('src/core/tokenizers/offsets.ts'),
    digits: `${'1234567890'.repeat(300)} end`,
    noSpaces: fs.readFileSync(path.join(root, 'vendor/stories260K/tok512.bin')).toString('base64').slice(0, 12000),
    mixed: '日本語のテキスト、😀 emoji 👍🏽 e\u0301te café.\r\n'.repeat(150),
    whitespace: `a${' '.repeat(3000)}b\n\n\n${'\t'.repeat(1000)}c`,
  };
}

function assertSameTail(analysed: Token[], full: Token[], what: string) {
  const lead = analysed[0].special && analysed[0].start === 0 && analysed[0].end === 0 ? 1 : 0;
  const got = analysed.slice(lead).map((t) => [t.id, t.start, t.end]);
  assert.deepEqual(got, full.slice(full.length - got.length).map((t) => [t.id, t.start, t.end]), what);
}

for (const family of FAMILIES) {
  test(`${family}: a long text's window holds the very tokens the whole text has there`, async () => {
    const session = sessions.get(family)!;
    const decode = decoderOf(family);
    for (const [kind, text] of Object.entries(longTexts())) {
      const full = session.tokenize(text);
      assertSpans(text, full, decode, RULES[family]);
      const a = await session.analyze(text);
      assertSameTail(a.tokens, full, `${family} ${kind}`);
      const lead = a.tokens[0].special && a.tokens[0].end === 0 ? 1 : 0;
      assert.equal(a.window.truncated, full.length > session.info.contextLength, `${family} ${kind}`);
      if (!a.window.truncated) continue;
      // Prose is dense enough that a tail of the text is all that was tokenized.
      if (kind === 'markdown') assert.equal(a.window.counted, false, 'the whole text was tokenized');
      assert.equal(a.window.start, a.tokens[lead].start);
      assert.equal(a.window.end, text.length);
      if (a.window.counted) assert.equal(a.window.totalTokens, full.length);
      // An estimate from the analysed part's characters per token (not for text whose density changes).
      else if (kind !== 'whitespace') assert.ok(Math.abs(a.window.totalTokens / full.length - 1) < 0.35, `${family} ${kind}: estimate ${a.window.totalTokens} for ${full.length}`);
    }
  });

  test(`${family}: property: a small window of random long text is exact`, async () => {
    const session = sessions.get(family)!;
    const piece = fc.oneof(storyText, unicodeText, fc.constantFrom('1234567', '   ', '\n\n', '{"a": [1, 2]}', '# T\n'));
    const longText = fc.array(piece, { minLength: 20, maxLength: 80 }).map((p) => p.join(''))
      .filter((s) => !/<unk>|<s>|<\/s>|<\||\u2581/.test(s) && s.length > 600);
    await fc.assert(fc.asyncProperty(longText, fc.integer({ min: 2, max: 24 }), async (text, maxTokens) => {
      const a = await session.analyze(text, { maxTokens });
      assertSameTail(a.tokens, session.tokenize(text), `${family}, ${maxTokens} tokens of ${JSON.stringify(text.slice(-200))}`);
      assert.ok(a.tokens.length <= maxTokens);
    }), { seed: 13, numRuns: 25 });
  });
}

test('explain --json: spans for each family, starting with a letter, "{", "#", a digit and "é"', () => {
  const cases: [Family, string][] = [
    ['stories260K', 'zxq mom\nhello'], ['gpt2', '{"mom": 1}\nmom'], ['llama2', '# Title\nmom went home'],
    ['llama3', '42 moms\nmom'], ['qwen3', 'e\u0301te\nmom'],
  ];
  for (const [family, text] of cases) {
    const explained = cliRunner({ cache: path.join(tmp, 'cache') }).json('explain', '--model', folders.get(family)!, '--json', text);
    const decode = decoderOf(family);
    const tokens = (explained.tokens as Token[]).map((t) => ({ ...t, special: decode(t.id) === null }));
    assertSpans(text, tokens, decode, RULES[family]);
    if (family === 'stories260K') assert.deepEqual([tokens[0].text, tokens[0].start, tokens[0].end], ['<s>', 0, 0]);
  }
});
