/**
 * `npm run bench -- <name> [...]`: runs the named benchmarks (all when none
 * is given) and prints one JSON object per benchmark. Each benchmark measures
 * its own baseline in the same run (these machines are shared and noisy).
 */
const benches: Record<string, () => Promise<{ run(): Promise<object> }>> = {
  pdf: () => import('./pdf.ts'),
  loadtest: () => import('./loadtest.ts'),
  pipeline: () => import('./pipeline.ts'),
  endpoints: () => import('./endpoints.ts'),
};

const asked = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = asked.length ? asked : Object.keys(benches);
const unknown = names.filter((n) => !(n in benches));
if (unknown.length) {
  process.stderr.write(`unknown benchmark ${unknown.join(', ')}; available: ${Object.keys(benches).join(', ')}\n`);
  process.exit(2);
}
for (const name of names) {
  const mod = await benches[name]!();
  const result = await mod.run();
  process.stdout.write(`${JSON.stringify({ bench: name, ...result })}\n`);
}
process.exit(0);
