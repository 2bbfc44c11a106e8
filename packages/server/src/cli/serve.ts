export async function run(_args: string[]): Promise<number> {
  process.stderr.write('cairn serve: not available in this build\n');
  return 2;
}
