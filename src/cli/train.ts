// token-lens train (the trainer's CLI command replaces this file).
export async function runTrain(_argv: string[]): Promise<number> {
  process.stderr.write('token-lens train: not available yet\n');
  return 1;
}
