import { copyFileSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
// Only what the service process loads: the service's sources and the bench's process plumbing.
const BENCH_FILES = ['bench/service-process.ts', 'bench/reference-proxy-process.ts', 'bench/forked-process.ts'];

function filesEndingWith(dir: string, extension: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return filesEndingWith(path, extension);
    return entry.name.endsWith(extension) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/**
 * Transpiles the service to plain JavaScript under `outDir` and returns the entry points of the
 * service and of the reference proxy.
 * Production runs compiled JavaScript (`npm start`); under tsx the same process holds about 60 MB
 * more (the loader's worker thread and its caches), which would distort the memory figures.
 * Transpiling file by file, without type checking, takes well under a second and cannot be stopped
 * by a type error in work in progress elsewhere in the repository.
 */
export function compileService(outDir: string): { service: URL; referenceProxy: URL } {
  const sources = [...filesEndingWith(join(ROOT, 'src'), '.ts'), ...BENCH_FILES.map((file) => join(ROOT, file))];
  for (const source of sources) {
    const { outputText } = ts.transpileModule(readFileSync(source, 'utf8'), {
      fileName: source,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true, sourceMap: false },
    });
    const target = join(outDir, relative(ROOT, source)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, outputText);
  }
  // Data the sources import (the heuristic's lexicons), as tsc copies it into dist/.
  for (const data of filesEndingWith(join(ROOT, 'src'), '.json')) {
    const target = join(outDir, relative(ROOT, data));
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(data, target);
  }
  writeFileSync(join(outDir, 'package.json'), '{ "type": "module" }\n');
  // Packages resolve from the compiled files' folder upwards, so the repository's own node_modules must be found there.
  symlinkSync(join(ROOT, 'node_modules'), join(outDir, 'node_modules'), 'dir');
  // The report pages' assets, found next to the sources' root as in the repository and the image.
  symlinkSync(join(ROOT, 'public'), join(outDir, 'public'), 'dir');
  return {
    service: pathToFileURL(join(outDir, 'bench', 'service-process.js')),
    referenceProxy: pathToFileURL(join(outDir, 'bench', 'reference-proxy-process.js')),
  };
}
