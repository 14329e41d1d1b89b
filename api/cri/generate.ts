// Fetches the pinned CRI proto through the Go module proxy and generates typed TypeScript for it.
//
// Run with Node >= 22.18 (type stripping): `node api/cri/generate.ts`. The proto and the generated module are
// build outputs under api/cri/gen/ and are never committed; only pin.json and this script are.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

interface Pin {
  module: string;
  version: string;
  path: string;
  sha256: string;
}

const here = dirname(fileURLToPath(import.meta.url));
const genDir = join(here, 'gen');
const pin = JSON.parse(readFileSync(join(here, 'pin.json'), 'utf8')) as Pin;
const protoOut = join(genDir, 'api.proto');
const tsOut = join(genDir, 'cri.ts');

function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Asks the Go toolchain for the module; it verifies the module against go.sum's public checksum database. */
function downloadProto(): string {
  const scratch = mkdtempSync(join(tmpdir(), 'cri-api-'));
  try {
    const out = execFileSync('go', ['mod', 'download', '-json', `${pin.module}@${pin.version}`], {
      cwd: scratch,
      env: { ...process.env, GOFLAGS: '-mod=mod', GO111MODULE: 'on' },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const info = JSON.parse(out) as { Dir?: string; Error?: string };
    if (info.Error !== undefined || info.Dir === undefined) {
      throw new Error(`go mod download ${pin.module}@${pin.version} failed: ${info.Error ?? 'no Dir'}`);
    }
    return readFileSync(join(info.Dir, pin.path), 'utf8');
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function fetchVerifiedProto(): string {
  if (existsSync(protoOut)) {
    const cached = readFileSync(protoOut, 'utf8');
    if (sha256(cached) === pin.sha256) return cached;
  }
  const text = downloadProto();
  const got = sha256(text);
  if (got !== pin.sha256) {
    throw new Error(`sha256 of ${pin.module}@${pin.version}/${pin.path} is ${got}, pin says ${pin.sha256}`);
  }
  mkdirSync(genDir, { recursive: true });
  writeFileSync(protoOut, text);
  return text;
}

// ---- TypeScript emission ------------------------------------------------------------------------------------

const scalarTypes: Record<string, string> = {
  double: 'number',
  float: 'number',
  int32: 'number',
  uint32: 'number',
  sint32: 'number',
  fixed32: 'number',
  sfixed32: 'number',
  int64: 'bigint',
  uint64: 'bigint',
  sint64: 'bigint',
  fixed64: 'bigint',
  sfixed64: 'bigint',
  bool: 'boolean',
  string: 'string',
  bytes: 'Uint8Array',
};

/** runtime.v1.SecurityProfile.ProfileType → SecurityProfile_ProfileType */
function tsName(t: protobuf.ReflectionObject): string {
  const parts: string[] = [];
  for (
    let o: protobuf.ReflectionObject | null = t;
    o !== null && !(o instanceof protobuf.Namespace && !(o instanceof protobuf.Type));
    o = o.parent
  ) {
    parts.unshift(o.name);
  }
  return parts.join('_');
}

function docComment(comment: string | null, indent: string): string {
  if (comment === null || comment.trim() === '') return '';
  const lines = comment.replace(/\*\//g, '*\\/').split('\n');
  return `${indent}/**\n${lines.map((l) => `${indent} * ${l}`.trimEnd()).join('\n')}\n${indent} */\n`;
}

function fieldType(field: protobuf.Field): string {
  field.resolve();
  const resolved = field.resolvedType;
  const base = resolved !== null ? tsName(resolved) : scalarTypes[field.type];
  if (base === undefined) throw new Error(`unknown scalar type ${field.type} on ${field.fullName}`);
  if (field instanceof protobuf.MapField) {
    const valueType = resolved !== null ? tsName(resolved) : scalarTypes[field.type];
    return `Record<string, ${valueType ?? 'never'}>`;
  }
  if (field.repeated) return `${base}[]`;
  // proto3 message fields are absent until set: decoding yields null for them.
  if (resolved instanceof protobuf.Type) return `${base} | null`;
  return base;
}

function emitEnum(e: protobuf.Enum, out: string[]): void {
  const name = tsName(e);
  out.push(docComment(e.comment, '') + `export const ${name} = {`);
  for (const [key, value] of Object.entries(e.values)) {
    out.push(docComment(e.comments[key] ?? null, '  ') + `  ${key}: ${value},`);
  }
  out.push('} as const;');
  out.push(`export type ${name} = (typeof ${name})[keyof typeof ${name}];\n`);
}

function emitMessage(t: protobuf.Type, out: string[]): void {
  out.push(docComment(t.comment, '') + `export interface ${tsName(t)} {`);
  for (const field of t.fieldsArray) {
    out.push(docComment(field.comment, '  ') + `  ${field.name}: ${fieldType(field)};`);
  }
  out.push('}\n');
}

function emitService(s: protobuf.Service, out: string[]): void {
  out.push(docComment(s.comment, '') + `export interface ${s.name}Methods {`);
  for (const m of s.methodsArray) {
    m.resolve();
    const req = m.resolvedRequestType;
    const res = m.resolvedResponseType;
    if (req === null || res === null) throw new Error(`unresolved method ${m.fullName}`);
    out.push(
      docComment(m.comment, '  ') +
        `  ${m.name}: { request: ${tsName(req)}; response: ${tsName(res)}; ` +
        `requestStream: ${String(m.requestStream === true)}; responseStream: ${String(m.responseStream === true)} };`,
    );
  }
  out.push('}');
  out.push(`export const ${s.name}Name = '${s.fullName.replace(/^\./, '')}';\n`);
}

function walk(ns: protobuf.NamespaceBase, out: string[]): void {
  for (const nested of ns.nestedArray) {
    if (nested instanceof protobuf.Type) {
      emitMessage(nested, out);
      walk(nested, out);
    } else if (nested instanceof protobuf.Enum) {
      emitEnum(nested, out);
    } else if (nested instanceof protobuf.Service) {
      emitService(nested, out);
    } else if (nested instanceof protobuf.Namespace) {
      walk(nested, out);
    }
  }
}

function generate(protoText: string): string {
  const parsed = protobuf.parse(protoText, { keepCase: true, alternateCommentMode: true });
  parsed.root.resolveAll();
  const out: string[] = [
    `// Generated by api/cri/generate.ts from ${pin.module}@${pin.version} ${pin.path} (sha256 ${pin.sha256}).`,
    '// Do not edit; do not commit. Field names keep the proto spelling (snake_case).',
    '/* eslint-disable */',
    '',
    `export const criApiVersion = '${pin.version}';`,
    '/** The protobufjs JSON descriptor of the whole package, loaded at runtime by src/server/cri-codec.ts. */',
    `export const criDescriptor: Record<string, unknown> = ${JSON.stringify(parsed.root.toJSON())};`,
    '',
  ];
  walk(parsed.root, out);
  return out.join('\n');
}

const text = generate(fetchVerifiedProto());
mkdirSync(genDir, { recursive: true });
const tmp = `${tsOut}.tmp`;
writeFileSync(tmp, text);
renameSync(tmp, tsOut);
console.log(`generated ${tsOut} from ${pin.module}@${pin.version}`);
