// The hover's Markdown, built from plain data so it can be tested against a real analysis without an editor.
// The actual token and "Explain from here" come first: a hover shows about eight rows before it scrolls.
import { percent } from '../core/numberFormat';
import type { Candidate, ScoredToken } from '../core/types';

/** Token text as it will read in a code span: whitespace made visible, Markdown table breakers escaped. */
export function showToken(text: string): string {
  const visible = text.replace(/ /g, '␣').replace(/\n/g, '↵').replace(/\t/g, '⇥').replace(/\r/g, '');
  return '`' + (visible.replace(/`/g, 'ˋ').replace(/\|/g, '\\|') || '∅') + '`';
}

function bar(p: number): string {
  return '█'.repeat(Math.round(p * 10)) || '▏';
}

export interface HoverContent {
  /** Candidates for the hovered token's position, given everything before it; empty for the first token. */
  candidates: Candidate[];
  actual: ScoredToken;
  /** A `command:` URI for "Explain from here", or undefined to leave the link out. */
  explainCommand?: string;
  /** A masked model: the candidates fill in this token with it masked, from the text on both sides. */
  masked?: boolean;
}

export function hoverMarkdown(h: HoverContent): string {
  const a = h.actual;
  const link = h.explainCommand ? ` · [$(lightbulb-sparkle) Explain from here](${h.explainCommand})` : '';
  const blank = h.masked && a.prob === null && h.candidates.length > 0;
  if (!blank && (!h.candidates.length || a.prob === null)) {
    return `${showToken(a.text)} is the first token: nothing before it to predict from.${link}`;
  }
  const lines = [
    blank ? `**Blank** ${showToken(a.text)}: what the model fills in, from the text on both sides${link}`
      : `**Actual** ${showToken(a.text)} ${percent(a.prob!)} · rank ${a.rank} · loss ${a.loss?.toFixed(2)} nats${h.masked ? ' (masked in turn)' : ''}${link}`,
    '', '| # | predicted here | prob | |', '|--:|:--|--:|:--|',
  ];
  h.candidates.forEach((c, i) => {
    const mark = c.id === a.id ? ' ◀' : '';
    lines.push(`| ${i + 1} | ${showToken(c.text)}${mark} | ${percent(c.prob)} | ${bar(c.prob)} |`);
  });
  return lines.join('\n');
}

export const LOAD_MODEL = 'tokenLens.loadModel';
export const SHOW_LOG = 'tokenLens.showLog';
export const OPEN_SETTINGS = 'workbench.action.openSettings';
/** Every command the hover's links may run. */
export const HOVER_COMMANDS = [LOAD_MODEL, SHOW_LOG, OPEN_SETTINGS];

/** A local folder shows as its last segment; Hub ids stay as they are. */
export const modelLabel = (ref: string): string =>
  (/^([a-zA-Z]:)?[\\/]/.test(ref) ? ref.split(/[\\/]/).filter(Boolean).pop() ?? ref : ref);

/**
 * What the hover says while no model is loaded: one line with the way to load one and the way to turn the
 * hover off. `configured` is the tokenLens.model setting ('' when none: loading then asks for one).
 */
export function noModelMarkdown(state: 'none' | 'loading' | 'error', configured: string): string {
  const name = configured ? showToken(modelLabel(configured)) : '';
  const off = `[turn off](command:${OPEN_SETTINGS}?${encodeURIComponent(JSON.stringify(['tokenLens.hover.enabled']))})`;
  const load = (label: string) => `[$(play) ${label}](command:${LOAD_MODEL})`;
  switch (state) {
    case 'loading': return `Token Lens: loading ${name || 'the model'}… · ${off}`;
    case 'error': return `Token Lens: ${name || 'the model'} failed to load · [Show Log](command:${SHOW_LOG}) · ${load('Try again')} · ${off}`;
    default: return `Token Lens: ${configured ? `${load('Load')} ${name}` : load('Select a model')} to see its predictions here · ${off}`;
  }
}
