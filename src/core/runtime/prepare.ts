// Prepares a model folder for analysis: when its ONNX file has no attention outputs, writes a copy
// with the attention Softmaxes exposed (graph surgery), once per model file, in the cache.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LoadProgress } from '../types';
import { NO_ATTENTION_NOTE, exposeAttention } from './surgery';

export interface PreparedModel {
  /** The folder to load: the original, or the prepared copy. */
  folder: string;
  attentionLayers: number;
  attentionNote?: string;
}

interface SurgeryRecord {
  layers: number;
}

const JSON_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json'];

export async function prepareModelFolder(folder: string, cacheDir: string,
  onProgress?: (p: LoadProgress) => void): Promise<PreparedModel> {
  const config = JSON.parse(fs.readFileSync(path.join(folder, 'config.json'), 'utf8'));
  const own = config.token_lens;
  if (own?.attention_outputs === true) {
    return { folder, attentionLayers: own.config?.n_layer ?? own.config?.n_layers ?? config.num_hidden_layers ?? 0 };
  }
  const onnxFile = path.join(folder, 'onnx', 'model.onnx');
  const stat = fs.statSync(onnxFile);
  const key = createHash('sha256')
    .update(`${fs.realpathSync(onnxFile)}\0${stat.size}\0${stat.mtimeMs}`)
    .digest('hex').slice(0, 24);
  const prepared = path.join(cacheDir, 'prepared', key);
  const recordFile = path.join(prepared, 'surgery.json');
  if (!fs.existsSync(recordFile)) {
    onProgress?.({ status: 'prepare', message: 'Exposing attention weights (once per model file)…' });
    writePrepared(folder, onnxFile, prepared);
  }
  const record = JSON.parse(fs.readFileSync(recordFile, 'utf8')) as SurgeryRecord;
  if (record.layers === 0) return { folder, attentionLayers: 0, attentionNote: NO_ATTENTION_NOTE };
  return { folder: fs.existsSync(path.join(prepared, 'onnx', 'model.onnx')) ? prepared : folder, attentionLayers: record.layers };
}

function writePrepared(folder: string, onnxFile: string, prepared: string): void {
  const result = exposeAttention(fs.readFileSync(onnxFile));
  const tmp = `${prepared}.tmp-${process.pid}-${Date.now()}`;
  fs.mkdirSync(path.join(tmp, 'onnx'), { recursive: true });
  try {
    if (result.bytes) {
      for (const f of JSON_FILES) {
        if (fs.existsSync(path.join(folder, f))) fs.copyFileSync(path.join(folder, f), path.join(tmp, f));
      }
      fs.writeFileSync(path.join(tmp, 'onnx', 'model.onnx'), result.bytes);
      for (const data of result.externalData) {
        fs.symlinkSync(path.resolve(folder, 'onnx', data), path.join(tmp, 'onnx', data));
      }
    }
    fs.writeFileSync(path.join(tmp, 'surgery.json'), JSON.stringify({ layers: result.layers }));
    fs.rmSync(prepared, { recursive: true, force: true });
    fs.renameSync(tmp, prepared);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
