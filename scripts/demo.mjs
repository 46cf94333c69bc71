// npm run demo: with the built-in stories260K (which `npm run build` imports from vendor/stories260K into
// dist/models/), explains a sentence and generates a story. (npm run package builds the VS Code extension.)
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const cli = (args) => execFileSync(process.execPath, [resolve(root, 'dist/cli.js'), ...args], { stdio: 'inherit', cwd: root });
const model = resolve(root, 'dist/models/stories260K');

console.log('\n== token-lens explain: what comes after "...a little girl named"?');
cli(['explain', '--model', model, '--top-k', '5', 'Once upon a time, there was a little girl named']);
console.log('\n== token-lens generate --greedy (from BOS)');
cli(['generate', '--model', model, '--greedy', '--max-new-tokens', '60', '']);
console.log(`\nModel folder: ${model}\nIn VS Code it is the built-in model: run "Token Lens: Explain Next Token" with no setting.`);
