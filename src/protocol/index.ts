export * from './messages';
export * from './validate';
export * from './attention';
export * from './fromAnalysis';
export * from './finetune';
export { webviewHtml } from '../../webview/shared/html';
export type { WebviewHtmlOptions } from '../../webview/shared/html';
