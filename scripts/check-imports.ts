// Fails when the relative imports under src/ form a cycle; the layering rules themselves live in eslint.config.js.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const srcRoot = resolve(import.meta.dirname, '..', 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

const importPattern = /^\s*(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'/gm;
const graph = new Map<string, string[]>();
for (const file of sourceFiles(srcRoot)) {
  const targets: string[] = [];
  for (const match of readFileSync(file, 'utf8').matchAll(importPattern)) {
    const spec = match[1];
    if (spec === undefined) continue;
    const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
    if (target.startsWith(srcRoot)) targets.push(target);
  }
  graph.set(file, targets);
}

// Depth-first search with colours; a grey node met again closes a cycle.
const colour = new Map<string, 'grey' | 'black'>();
const cycles: string[][] = [];
function visit(node: string, path: string[]): void {
  colour.set(node, 'grey');
  for (const next of graph.get(node) ?? []) {
    const c = colour.get(next);
    if (c === 'grey') cycles.push([...path.slice(path.indexOf(next)), next]);
    else if (c === undefined) visit(next, [...path, next]);
  }
  colour.set(node, 'black');
}
for (const node of graph.keys()) if (!colour.has(node)) visit(node, [node]);

if (cycles.length > 0) {
  for (const cycle of cycles) console.error(`import cycle: ${cycle.map((f) => relative(srcRoot, f)).join(' → ')}`);
  process.exit(1);
}
console.log(`no import cycles among ${String(graph.size)} files in src/`);
