// What a GGUF file is, read from its header before llama.cpp is asked to load it: llama.cpp's own
// failures are one generic line, so the common bad inputs are told apart here first.
import * as fs from 'node:fs';
import type { Llama } from 'node-llama-cpp';
import { AnalysisError } from '../../runtime/session';
import type { GgufTokenizerMetadata } from './ggufVocabulary';
import { nodeLlama } from './nodeLlama';

export interface GgufSummary {
  architecture: string;
  layers: number;
  heads: number;
  tokenizer: GgufTokenizerMetadata;
}

export async function checkGgufFile(file: string, llama: Llama): Promise<GgufSummary> {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw new AnalysisError(`Cannot read ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}.`);
  }
  const magic = Buffer.alloc(4);
  try { fs.readSync(fd, magic, 0, 4, 0); } finally { fs.closeSync(fd); }
  if (magic.toString('latin1') !== 'GGUF') throw new AnalysisError(`${file} is not a GGUF file (it does not start with "GGUF").`);
  const { readGgufFileInfo, GgufInsights } = await nodeLlama();
  let info: Awaited<ReturnType<typeof readGgufFileInfo>>;
  try {
    info = await readGgufFileInfo(file, { sourceType: 'filesystem', logWarnings: false });
  } catch (e) {
    throw new AnalysisError(`${file} is a corrupt or truncated GGUF file: ${(e as Error).message.split('\n')[0]}`);
  }
  const metadata = info.metadata as unknown as {
    general?: { architecture?: string };
    tokenizer?: { ggml?: GgufTokenizerMetadata };
  };
  const architecture = metadata.general?.architecture ?? 'unknown';
  const size = fs.statSync(file).size;
  if ((info.infoEndOffset ?? 0) > size || Number(info.tensorCount) !== (info.tensorInfo?.length ?? 0)) {
    throw new AnalysisError(`${file} is a corrupt or truncated GGUF file: its header runs past the end of the file.`);
  }
  if (!info.tensorInfo?.length) {
    throw new AnalysisError(`${file} holds a vocabulary only (no weights): it cannot score text. Pick the model's full GGUF file.`);
  }
  checkComplete(file, info);
  const insights = await GgufInsights.from(info, llama);
  if (!insights.isSupportedByLlamaCpp) {
    throw new AnalysisError(`${file} is a "${architecture}" model, an architecture this llama.cpp (node-llama-cpp 3.22.1) does not know.`);
  }
  const arch = (info.architectureMetadata ?? {}) as { block_count?: number; attention?: { head_count?: number | number[] } };
  const heads = arch.attention?.head_count;
  return {
    architecture,
    layers: arch.block_count ?? 0,
    heads: Array.isArray(heads) ? heads[0] ?? 0 : heads ?? 0,
    tokenizer: metadata.tokenizer?.ggml ?? {},
  };
}

// Bytes per block and values per block of common GGML tensor types (F32, F16, Q4_0, Q4_1, Q5_0, Q5_1,
// Q8_0, Q2_K..Q6_K, BF16); others are checked by their start only.
const BLOCKS: Record<number, [bytes: number, values: number]> = {
  0: [4, 1], 1: [2, 1], 2: [18, 32], 3: [20, 32], 6: [22, 32], 7: [24, 32], 8: [34, 32],
  10: [84, 256], 11: [110, 256], 12: [144, 256], 13: [176, 256], 14: [210, 256], 30: [2, 1],
};

/** Every tensor's bytes lie inside the file (a download cut short passes the header check). */
function checkComplete(file: string, info: { tensorInfo?: { name: string; dimensions: readonly (number | bigint)[]; ggmlType: number; fileOffset: number | bigint }[] }): void {
  const size = fs.statSync(file).size;
  for (const t of info.tensorInfo ?? []) {
    const block = BLOCKS[t.ggmlType];
    const values = t.dimensions.reduce<number>((a, d) => a * Number(d), 1);
    const end = Number(t.fileOffset) + (block ? Math.ceil(values / block[1]) * block[0] : 1);
    if (end > size) throw new AnalysisError(`${file} is truncated: tensor ${t.name} runs past the end of the file (a download cut short?).`);
  }
}
