/**
 * Builds the console (`npm run build:console`, also part of `npm run build`): esbuild bundles
 * `ui/main.tsx` (Preact, TypeScript, the CSS it imports) into content-hashed files under
 * `dist/console/assets/` and writes `dist/console/index.html` naming them. The API serves that
 * folder at /ui (console.assets.ts); the image ships it with the rest of `dist/`.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { CONSOLE_DIST, CONSOLE_PATH } from '../console.assets.js';

const UI_DIR = fileURLToPath(new URL('../ui/', import.meta.url));

export interface ConsoleBuild {
  /** Bytes of each asset, by its file name. */
  sizes: Record<string, number>;
}

export async function buildConsole(outDir = CONSOLE_DIST): Promise<ConsoleBuild> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(path.join(outDir, 'assets'), { recursive: true });
  const result = await build({
    entryPoints: { app: path.join(UI_DIR, 'main.tsx') },
    bundle: true,
    format: 'esm',
    target: ['chrome111', 'firefox113', 'safari16.4'],
    minify: true,
    sourcemap: 'linked',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: path.join(outDir, 'assets'),
    entryNames: '[name]-[hash]',
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  const sizes: Record<string, number> = {};
  let script = '';
  let style = '';
  for (const [file, info] of Object.entries(result.metafile.outputs)) {
    const name = path.basename(file);
    if (name.endsWith('.map')) continue;
    sizes[name] = info.bytes;
    if (name.endsWith('.js')) script = name;
    if (name.endsWith('.css')) style = name;
  }
  const template = await readFile(path.join(UI_DIR, 'index.html'), 'utf8');
  await writeFile(
    path.join(outDir, 'index.html'),
    template
      .replace('%SCRIPT%', `${CONSOLE_PATH}/assets/${script}`)
      .replace('%STYLE%', `${CONSOLE_PATH}/assets/${style}`),
  );
  return { sizes };
}

// Run as a script. No top-level await: mocha require()s spec files first, and a module with one
// (imported by the browser spec) would be loaded a second time as ESM.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // --quiet: `npm run dev` builds it first, and its own output (even --help's) stays its own.
  const quiet = process.argv.includes('--quiet');
  void buildConsole().then(({ sizes }) => {
    if (quiet) return;
    for (const [name, bytes] of Object.entries(sizes)) {
      process.stdout.write(`dist/console/assets/${name}  ${(bytes / 1024).toFixed(1)} kB\n`);
    }
  });
}
