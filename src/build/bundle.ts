// The CLI as one esbuild bundle split at its dynamic imports: a start reads
// and compiles a few files instead of some hundreds of modules (`npm run
// bundle`, after tsc: dist/cli/main.js). The bench builds a control bundle
// beside it (`benchControl`): the same CLI with hashing off in its checksums
// (recovery/bench-control.ts), to measure what verification costs a run.
import { rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

/** Where the shipped CLI is built. */
const CLI_OUTDIR = join(ROOT, 'dist', 'cli');
/** Where the bench's control CLI is built: as deep below the root as dist/cli (main.ts reads ../../package.json), never shipped. */
export const CONTROL_OUTDIR = join(ROOT, '.bench-control', 'cli');

export async function bundleCli(o: { outdir: string; benchControl?: boolean }): Promise<void> {
  // chunks are named by content hash: old ones would pile up
  await rm(join(o.outdir, 'chunks'), { recursive: true, force: true });
  const r = await build({
    entryPoints: [join(ROOT, 'src', 'cli', 'main.ts')],
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outdir: o.outdir,
    chunkNames: 'chunks/[name]-[hash]',
    // a native addon (loaded from node_modules), and pg's optional native driver (never installed)
    external: ['libpg-query', 'pg-native'],
    sourcemap: true,
    metafile: true,
    // pg probes for Cloudflare through Response, which on Node 20 loads undici (~60 ms at start): defined away
    define: { Response: 'undefined', UNDROP_BENCH_CONTROL: o.benchControl ? 'true' : 'false' },
    logLevel: 'warning',
    // CommonJS dependencies call require(): give the ESM bundle one
    banner: { js: "import { createRequire as undropCreateRequire } from 'node:module'; const require = undropCreateRequire(import.meta.url);" },
  });
  // which modules each chunk holds (test/integration/cli-startup.test.ts reads it)
  await writeFile(join(o.outdir, 'bundle-meta.json'), JSON.stringify(r.metafile));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  bundleCli({ outdir: CLI_OUTDIR }).catch((e: unknown) => {
    process.stderr.write(`bundle failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
