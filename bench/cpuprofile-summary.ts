// node bench/cpuprofile-summary.ts FILE.cpuprofile [TOP]
//
// Summarises a V8 CPU profile (node --cpu-prof, as bench/image-pull.sh writes with BENCH_CRI_TS_PROFILE) of the
// daemon's main thread: self time by category (idle, GC, native "program", Node internals, our code, each
// dependency), by source file, and the TOP functions by self time. Work done on libuv's thread pool (gunzip,
// file system calls, crypto in streams) is not on the main thread and shows only as idle time here.
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const [file, topArg] = process.argv.slice(2);
if (file === undefined) {
  console.error('usage: node bench/cpuprofile-summary.ts FILE.cpuprofile [TOP]');
  process.exit(2);
}
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));

// Self time per node: each sample's time delta belongs to the node sampled (V8 records the delta *before* a
// sample, so the next delta is the one that follows it).
const self = new Map<number, number>();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  const dt = profile.timeDeltas[i + 1] ?? 0;
  if (id !== undefined) self.set(id, (self.get(id) ?? 0) + dt);
}
const totalUs = [...self.values()].reduce((a, b) => a + b, 0);

function category(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') {
    if (functionName === '(idle)') return 'idle (waiting: I/O, thread pool, timers)';
    if (functionName === '(garbage collector)') return 'garbage collector';
    if (functionName === '(program)') return 'native (V8/Node C++ outside JS)';
    if (functionName === '(root)') return 'root';
    return `native: ${functionName}`;
  }
  if (url.startsWith('node:'))
    return `node internals (${url.replace(/^node:internal\//, '').split('/')[0] ?? url})`;
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dep?.[1] !== undefined) return `dependency ${dep[1]}`;
  const own = /\/dist\/(src\/[^/]+)\//.exec(url);
  if (own?.[1] !== undefined) return `cri-ts ${own[1]}`;
  return url;
}

function shortUrl(url: string): string {
  return url.replace(/^file:\/\/.*?\/dist\//, 'dist/').replace(/^file:\/\/.*?\/node_modules\//, 'node_modules/');
}

function add(map: Map<string, number>, key: string, us: number): void {
  map.set(key, (map.get(key) ?? 0) + us);
}

const byCategory = new Map<string, number>();
const byFile = new Map<string, number>();
const byFunction = new Map<string, number>();
for (const [id, us] of self) {
  const node = byId.get(id);
  if (node === undefined) continue;
  const f = node.callFrame;
  add(byCategory, category(f), us);
  if (f.url !== '') add(byFile, shortUrl(f.url), us);
  const name = f.functionName === '' ? '(anonymous)' : f.functionName;
  add(byFunction, f.url === '' ? name : `${name}  ${shortUrl(f.url)}:${String(f.lineNumber + 1)}`, us);
}

function print(title: string, map: Map<string, number>, limit: number): void {
  console.log(`\n${title}`);
  const rows = [...map].sort((a, b) => b[1] - a[1]).slice(0, limit);
  for (const [key, us] of rows) {
    console.log(
      `${(us / 1000).toFixed(0).padStart(8)} ms ${((100 * us) / totalUs).toFixed(1).padStart(5)}%  ${key}`,
    );
  }
}

const spanS = (profile.endTime - profile.startTime) / 1e6;
console.log(`${file}: ${String(profile.samples.length)} samples over ${spanS.toFixed(2)} s of the main thread`);
print('self time by category', byCategory, 30);
print('self time by file', byFile, 15);
print(`top ${String(top)} functions by self time`, byFunction, top);
