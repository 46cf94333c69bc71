// The lenses as one module: the extension loads it (dist/lenses.js) at first use, like the runtime.
export { logitLens, NO_HIDDEN_STATES_NOTE, type LogitLens } from './logitLens';
export { attribute, AttributionError, DEFAULT_IG_STEPS, type Attribution, type AttributionMethod } from './attribution';
export { LensUnavailableError } from './projectModel';
