// The extension's lazily loaded runtime bundle (dist/runtime.js): the ONNX session and the engine loader.
// node-llama-cpp is imported only when a GGUF model is loaded.
export * from '../runtime/session';
export { loadEngine } from './load';
