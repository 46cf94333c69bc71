// What a fine-tune changed, as the compare lens shows it: the starting model (A) against the trained one
// (B) on the whole probe text, and on held-out text the run did not train on (the file's validation part
// when it has one, a short story otherwise), where forgetting shows.
import { readTextFile } from '../core/trainer/textFile';
import type { FineTuneComparison } from '../protocol/finetune';

/** A story in the TinyStories style that no fine-tune file is expected to contain. */
export const HELD_OUT_STORY = 'Tom had a red ball. He liked to throw it to his dog, Spot. One day the ball rolled into the pond. '
  + 'Spot jumped in and brought it back. Tom gave Spot a big hug and they went home happy.';

/** Characters of held-out text compared; the lens is one forward pass per model. */
const HELD_OUT_CHARS = 1500;

/** The last tenth of the file (what the trainer holds out for validation) when it is long enough, else the story. */
export function heldOutText(file: string): { text: string; source: string } {
  try {
    const { text } = readTextFile(file, 4 * 1024 * 1024);
    if (text.length >= 10 * 200) {
      const tail = text.slice(Math.floor(text.length * 0.9));
      return { text: tail.slice(0, HELD_OUT_CHARS), source: 'the validation part of the file (its last tenth, not trained on)' };
    }
  } catch {
    // An unreadable file fails the run elsewhere; the story still shows what changed.
  }
  return { text: HELD_OUT_STORY, source: 'a short story outside the training file' };
}

export async function compareBeforeAfter(start: string, trained: string, probeText: string, file: string, cacheDir: string): Promise<FineTuneComparison> {
  const { ModelSession } = await import('../core/runtime/session');
  const { compareModels } = await import('../core/lenses/compare');
  const a = await ModelSession.load(start, { cacheDir, offline: true });
  try {
    const b = await ModelSession.load(trained, { cacheDir, offline: true });
    try {
      const heldOut = heldOutText(file);
      const names: [string, string] = ['before', 'after'];
      return {
        probe: { ...(await compareModels(a, b, probeText, { names })), text: probeText },
        heldOut: { ...(await compareModels(a, b, heldOut.text, { names })), text: heldOut.text, source: heldOut.source },
      };
    } finally {
      await b.dispose();
    }
  } finally {
    await a.dispose();
  }
}
