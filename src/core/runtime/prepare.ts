// Prepares a model folder for analysis. A model needs attention outputs and the scoring head; when its
// ONNX file lacks them, a copy with them added (graph surgery) is written once per model file, in the cache.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeModel, encodeModel } from '../onnx/builder';
import { ModelLoadError, readModelJson } from './modelFiles';
import { type DtypeChoice, type OnnxFile, findOnnxFile, noDecoderMessage } from './onnxFile';
import type { LoadProgress } from '../types';
import { addScoringHead } from '../onnx/scoringHead';
import { checkExternalData, externalDataRefs, linkOrCopy } from './externalData';
import { NO_ATTENTION_NOTE, exposeAttention } from './surgery';
import { unfuseAttention } from './unfuse';
import { HiddenStatesResult, LENS_HEAD_FILE, exposeHiddenStates, shareWeights } from './hiddenStates';
import { isMaskedModel } from './masked';
import { PREPARED_DIR, PREPARED_LIMITS, PREPARED_RECORD, evictPrepared, touchPrepared } from '../storage';

export interface PreparedModel {
  /** The folder to load: the original, or the prepared copy. */
  folder: string;
  /** The decoder file in that folder (onnx/model.onnx for a prepared copy). */
  file: string;
  /** Which file of the source folder it is (names it when it fails to load), and how transformers.js picks it. */
  source: OnnxFile;
  /** How transformers.js (generation) picks `file` in `folder`. */
  generateWith: { modelFileName: string; dtype: OnnxFile['dtype'] };
  attentionNote?: string;
}

interface SurgeryRecord {
  attentionLayers: number;
  /** Why fused attention could not be written out, when it could not. */
  keptFused?: string;
  /** Blocks whose output stream the prepared graph outputs (the logit lens), and why not when none. */
  hiddenLayers?: number;
  hiddenNote?: string;
  scoringHead: boolean;
  /** The folder it was prepared from (shown when cleaning up storage). */
  source?: string;
}

const JSON_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json'];
const FORMAT = 5;

export async function prepareModelFolder(folder: string, cacheDir: string,
  onProgress?: (p: LoadProgress) => void, dtype: DtypeChoice = 'auto'): Promise<PreparedModel> {
  const config = readModelJson(folder, 'config.json');
  const found = findOnnxFile(folder, dtype);
  if (!found) throw new ModelLoadError(noDecoderMessage(folder, folder, dtype));
  // Token Lens's own graphs (and their quantized variants, which keep every output) need no surgery. A masked
  // model needs no scoring head: it is scored by masking (masked.ts), not by its next tokens.
  const masked = isMaskedModel(config);
  const own = config.token_lens?.attention_outputs === true && (config.token_lens?.scoring_head === true || masked);
  if (own) return { folder, file: path.join(folder, found.file), source: found, generateWith: found };
  // Whatever the source file (merged, float16, quantized), the prepared copy is onnx/model.onnx.
  const onnxFile = path.join(folder, found.file);
  const stat = fs.statSync(onnxFile);
  const key = createHash('sha256')
    .update(`${FORMAT}\0${fs.realpathSync(onnxFile)}\0${stat.size}\0${stat.mtimeMs}`)
    .digest('hex').slice(0, 24);
  const prepared = path.join(cacheDir, PREPARED_DIR, key);
  const recordFile = path.join(prepared, PREPARED_RECORD);
  if (!fs.existsSync(recordFile)) {
    onProgress?.({ status: 'prepare', message: 'Preparing the model for analysis (once per model file)…' });
    try {
      writePrepared(folder, onnxFile, prepared, masked);
    } catch (e) {
      if (e instanceof ModelLoadError) throw e;
      throw new ModelLoadError(`Could not read the model file ${found.file} (${onnxFile}): ${(e as Error).message}`);
    }
    // Each prepared copy is a whole model: without eviction they pile up, one per model file ever analysed.
    evictPrepared(cacheDir, { ...PREPARED_LIMITS, except: [prepared] });
  } else {
    touchPrepared(prepared);
  }
  const record = JSON.parse(fs.readFileSync(recordFile, 'utf8')) as SurgeryRecord;
  return {
    folder: prepared,
    file: path.join(prepared, 'onnx', 'model.onnx'),
    source: found,
    generateWith: { modelFileName: 'model', dtype: 'fp32' },
    attentionNote: record.attentionLayers > 0 ? undefined
      : record.keptFused ? `${NO_ATTENTION_NOTE} (${record.keptFused} cannot be written out as plain attention)` : NO_ATTENTION_NOTE,
  };
}

/** Why a prepared foreign export has no hidden states, if it has none (undefined for other folders). */
export function hiddenStatesNote(preparedFolder: string): string | undefined {
  const file = path.join(preparedFolder, PREPARED_RECORD);
  if (!fs.existsSync(file)) return undefined;
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as SurgeryRecord).hiddenNote;
}

function writePrepared(folder: string, onnxFile: string, prepared: string, masked: boolean): void {
  const bytes = fs.readFileSync(onnxFile);
  let model = decodeModel(bytes);
  const dataFiles = checkExternalData(onnxFile, externalDataRefs(model));
  // Rewriting fused attention and finding the blocks read graphs of every shape: should either fail on one,
  // the model still loads, without what it would have added.
  let keptFused: string | undefined;
  try {
    keptFused = unfuseAttention(model).keptFused;
  } catch (e) {
    model = decodeModel(bytes);
    keptFused = `fused attention (${(e as Error).message})`;
  }
  const graph = model.graph!;
  const config = readModelJson(folder, 'config.json');
  let hidden: HiddenStatesResult;
  try {
    hidden = exposeHiddenStates(model, config.num_hidden_layers ?? config.n_layer ?? 0);
  } catch (e) {
    hidden = { layers: 0, note: (e as Error).message };
  }
  const record: SurgeryRecord = {
    attentionLayers: exposeAttention(graph), keptFused, hiddenLayers: hidden.layers, hiddenNote: hidden.note,
    scoringHead: !masked && addScoringHead(model), source: folder,
  };
  const tmp = `${prepared}.tmp-${process.pid}-${Date.now()}`;
  fs.mkdirSync(path.join(tmp, 'onnx'), { recursive: true });
  try {
    for (const f of JSON_FILES) {
      if (fs.existsSync(path.join(folder, f))) fs.copyFileSync(path.join(folder, f), path.join(tmp, f));
    }
    const modelBytes = encodeModel(model);
    fs.writeFileSync(path.join(tmp, 'onnx', 'model.onnx'), modelBytes);
    if (hidden.head) {
      shareWeights(hidden.head, modelBytes, 'model.onnx');
      fs.writeFileSync(path.join(tmp, 'onnx', LENS_HEAD_FILE), encodeModel(hidden.head));
    }
    for (const data of dataFiles) linkOrCopy(path.join(folder, 'onnx', data), path.join(tmp, 'onnx', data));
    fs.writeFileSync(path.join(tmp, PREPARED_RECORD), JSON.stringify(record));
    fs.rmSync(prepared, { recursive: true, force: true });
    fs.renameSync(tmp, prepared);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
