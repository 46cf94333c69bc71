// The hover's Markdown, built from plain data so it can be tested against a real analysis without an editor.
import type { Candidate, ScoredToken } from '../core/types';

/** Token text as it will read in a code span: whitespace made visible, Markdown table breakers escaped. */
export function showToken(text: string): string {
  const visible = text.replace(/ /g, '␣').replace(/\n/g, '↵').replace(/\t/g, '⇥').replace(/\r/g, '');
  return '`' + (visible.replace(/`/g, 'ˋ').replace(/\|/g, '\\|') || '∅') + '`';
}

export function percent(p: number): string {
  return p >= 0.1 ? `${(p * 100).toFixed(1)}%` : p >= 0.001 ? `${(p * 100).toFixed(2)}%` : `${(p * 100).toExponential(1)}%`;
}

function bar(p: number): string {
  return '█'.repeat(Math.round(p * 10)) || '▏';
}

export interface HoverContent {
  /** Candidates for the hovered token's position, given everything before it; empty for the first token. */
  candidates: Candidate[];
  actual: ScoredToken;
  model: string;
  /** A `command:` URI for "Explain from here", or undefined to leave the link out. */
  explainCommand?: string;
}

export function hoverMarkdown(h: HoverContent): string {
  const lines: string[] = [];
  const a = h.actual;
  if (!h.candidates.length || a.prob === null) {
    lines.push(`${showToken(a.text)} is the first token: nothing before it to predict from.`);
  } else {
    lines.push(`**Next token here**, given the text before it (${h.model})`, '', '| # | token | prob | |', '|--:|:--|--:|:--|');
    h.candidates.forEach((c, i) => {
      const mark = c.id === a.id ? ' ◀' : '';
      lines.push(`| ${i + 1} | ${showToken(c.text)}${mark} | ${percent(c.prob)} | ${bar(c.prob)} |`);
    });
    lines.push('', `**Actual** ${showToken(a.text)}: prob ${percent(a.prob)}, rank ${a.rank}, loss ${a.loss?.toFixed(2)} nats`);
  }
  if (h.explainCommand) lines.push('', `[$(lightbulb-sparkle) Explain from here](${h.explainCommand})`);
  return lines.join('\n');
}
