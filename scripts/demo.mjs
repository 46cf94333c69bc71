// npm run demo: imports the pretrained stories260K into ./models/stories260K (once), explains a
// sentence with it and generates a story. (npm run package builds the VS Code extension.)
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const cli = (args) => execFileSync(process.execPath, [resolve(root, 'dist/cli.js'), ...args], { stdio: 'inherit', cwd: root });
const source = resolve(root, process.env.STORIES260K ?? 'vendor/stories260K');
const model = resolve(root, 'models/stories260K');

if (!existsSync(resolve(model, 'config.json'))) {
  console.log(`\n== importing stories260K from ${source}`);
  cli(['import-llama2c', '--checkpoint', resolve(source, 'stories260K.bin'), '--tokenizer', resolve(source, 'tok512.bin'), '--out', model]);
}
console.log('\n== token-lens explain: what comes after "...a little girl named"?');
cli(['explain', '--model', model, '--top-k', '5', 'Once upon a time, there was a little girl named']);
console.log('\n== token-lens generate --greedy (from BOS)');
cli(['generate', '--model', model, '--greedy', '--max-new-tokens', '60', '']);
console.log(`\nModel folder: ${model}\nUse it in VS Code: set "tokenLens.model" to that folder, then run "Token Lens: Explain Next Token".`);
