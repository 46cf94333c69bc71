// Prepares a model folder for analysis. A model needs attention outputs and the scoring head; when its
// ONNX file lacks them, a copy with them added (graph surgery) is written once per model file, in the cache.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeModel, encodeModel } from '../onnx/builder';
import { ModelLoadError, readModelJson } from './modelFiles';
import { ONNX_FILE_LIST, findOnnxFile } from './onnxFile';
import type { LoadProgress } from '../types';
import { addScoringHead } from '../onnx/scoringHead';
import { checkExternalData, externalDataRefs, linkOrCopy } from './externalData';
import { NO_ATTENTION_NOTE, exposeAttention } from './surgery';
import { PREPARED_DIR, PREPARED_LIMITS, PREPARED_RECORD, evictPrepared, touchPrepared } from '../storage';

export interface PreparedModel {
  /** The folder to load: the original, or the prepared copy. */
  folder: string;
  attentionNote?: string;
}

interface SurgeryRecord {
  attentionLayers: number;
  scoringHead: boolean;
  /** The folder it was prepared from (shown when cleaning up storage). */
  source?: string;
}

const JSON_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json'];
const FORMAT = 4;

export async function prepareModelFolder(folder: string, cacheDir: string,
  onProgress?: (p: LoadProgress) => void): Promise<PreparedModel> {
  const config = readModelJson(folder, 'config.json');
  if (config.token_lens?.attention_outputs === true && config.token_lens?.scoring_head === true) return { folder };
  // Whatever the source file (merged, float16), the prepared copy is onnx/model.onnx.
  const found = findOnnxFile(folder);
  if (!found) throw new ModelLoadError(`${folder} has no ONNX decoder: expected ${ONNX_FILE_LIST}.`);
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
      writePrepared(folder, onnxFile, prepared);
    } catch (e) {
      if (e instanceof ModelLoadError) throw e;
      throw new ModelLoadError(`Could not read the model file ${onnxFile}: ${(e as Error).message}`);
    }
    // Each prepared copy is a whole model: without eviction they pile up, one per model file ever analysed.
    evictPrepared(cacheDir, { ...PREPARED_LIMITS, except: [prepared] });
  } else {
    touchPrepared(prepared);
  }
  const record = JSON.parse(fs.readFileSync(recordFile, 'utf8')) as SurgeryRecord;
  return {
    folder: prepared,
    attentionNote: record.attentionLayers === 0 ? NO_ATTENTION_NOTE : undefined,
  };
}

function writePrepared(folder: string, onnxFile: string, prepared: string): void {
  const model = decodeModel(fs.readFileSync(onnxFile));
  const dataFiles = checkExternalData(onnxFile, externalDataRefs(model));
  const graph = model.graph!;
  const record: SurgeryRecord = { attentionLayers: exposeAttention(graph), scoringHead: addScoringHead(model), source: folder };
  const tmp = `${prepared}.tmp-${process.pid}-${Date.now()}`;
  fs.mkdirSync(path.join(tmp, 'onnx'), { recursive: true });
  try {
    for (const f of JSON_FILES) {
      if (fs.existsSync(path.join(folder, f))) fs.copyFileSync(path.join(folder, f), path.join(tmp, f));
    }
    fs.writeFileSync(path.join(tmp, 'onnx', 'model.onnx'), encodeModel(model));
    for (const data of dataFiles) linkOrCopy(path.join(folder, 'onnx', data), path.join(tmp, 'onnx', data));
    fs.writeFileSync(path.join(tmp, PREPARED_RECORD), JSON.stringify(record));
    fs.rmSync(prepared, { recursive: true, force: true });
    fs.renameSync(tmp, prepared);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
