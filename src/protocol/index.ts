export * from './messages';
export * from './validate';
export * from './attention';
export * from './fromAnalysis';
export * from './finetune';
export * from './compare';
