import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { lchown, link, lstat, lutimes, mkdir, readFile, rm, symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, pipeline, Readable } from 'node:stream';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import { abortError, CriError, internal, invalidArgument, isCriError, throwIfAborted } from '../errors/errors.js';
import { lsetxattr, mknod, S_IFBLK, S_IFCHR, S_IFIFO } from '../native/fsops.js';

export interface UnpackResult {
  /** "sha256:<hex>" of the uncompressed tar, to compare with the image config's rootfs.diff_ids entry. */
  diffId: string;
  /** Uncompressed bytes. */
  size: number;
  /** Filesystem entries in the tar (whiteouts included; PAX and GNU long-name headers not). */
  entries: number;
}

/**
 * Unpacks one image layer (gzip, zstd or plain tar, told apart by their first bytes) into `destDir`, an existing
 * empty directory that becomes an overlayfs lower dir: OCI whiteouts become overlay whiteouts (char device 0/0)
 * and `.wh..wh..opq` becomes the `trusted.overlay.opaque` xattr. The tar is read and written as it streams in.
 *
 * Nothing is written outside destDir: entries that escape, or whose parent path is a symlink, are refused
 * (InvalidArgument naming the entry) and unpacking stops. On any failure destDir is left half-written for the
 * caller to delete. Tar framing follows Go's archive/tar, which containerd uses: a missing end-of-archive marker
 * and a missing final padding are accepted (Debian's umoci 0.4.7 writes such layers); a body cut short is not.
 */
export async function unpackLayer(
  blob: NodeJS.ReadableStream,
  destDir: string,
  signal: AbortSignal,
): Promise<UnpackResult> {
  throwIfAborted(signal);
  const source = await LayerSource.open(blob, signal);
  try {
    const tar = new TarReader(source);
    const writer = await LayerWriter.open(destDir);
    let entries = 0;
    try {
      for (let entry = await tar.next(); entry !== undefined; entry = await tar.next()) {
        throwIfAborted(signal);
        entries += 1;
        await writer.write(entry, tar);
      }
      // Bytes after the end-of-archive marker (tar's record padding, say) are part of the diff_id all the same.
      await source.drain();
      await writer.finish();
    } catch (err) {
      // No write may still be running when the caller goes on to delete destDir.
      await writer.abandon();
      throw err;
    }
    return { diffId: `sha256:${source.digest()}`, size: source.size, entries };
  } finally {
    source.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Decompression and hashing

/** Decompressed output is handed over in chunks this big; bigger chunks mean fewer awaits per megabyte. */
const CHUNK = 256 * 1024;
/** Decompressed bytes queued ahead of the tar reader before the decompressor is paused. */
const QUEUE_HIGH = 8 * 1024 * 1024;
const EMPTY = Buffer.alloc(0);

type Compression = 'gzip' | 'zstd' | 'plain';

function detect(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32BE(0) === 0x28b52ffd) return 'zstd';
  return 'plain';
}

/**
 * The uncompressed layer as a pull source: the compressed blob is piped through the decompressor, and every
 * decompressed byte is hashed exactly once, as it is handed to the tar reader (or drained after the archive).
 */
class LayerSource {
  readonly #hash = createHash('sha256');
  size = 0;
  #chunk: Buffer = EMPTY;
  #pos = 0;
  readonly #queue: Buffer[] = [];
  #queued = 0;
  #ended = false;
  #error: unknown;
  #inputError: unknown;
  #wake: (() => void) | undefined;
  readonly #onAbort: () => void;

  private constructor(
    private readonly input: Readable,
    private readonly output: Readable,
    private readonly compression: Compression,
    private readonly signal: AbortSignal,
  ) {
    input.on('error', (err) => (this.#inputError ??= err));
    output.on('data', (data: Buffer) => {
      this.#queue.push(data);
      this.#queued += data.length;
      if (this.#queued >= QUEUE_HIGH) output.pause();
      this.#notify();
    });
    output.on('end', () => {
      this.#ended = true;
      this.#notify();
    });
    output.on('error', (err) => this.#fail(err));
    this.#onAbort = () => {
      this.#fail(abortError(signal));
      this.close();
    };
    signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  static async open(blob: NodeJS.ReadableStream, signal: AbortSignal): Promise<LayerSource> {
    const input = blob instanceof Readable ? blob : Readable.from(blob);
    const raw = input[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
    // The compression is told by the first four bytes; gather them, then replay them ahead of the rest.
    const head: Buffer[] = [];
    let headLength = 0;
    let done = false;
    const onAbort = () => input.destroy(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      while (headLength < 4 && !done) {
        const next = await raw.next();
        if (next.done === true) done = true;
        else {
          const data = toBuffer(next.value);
          head.push(data);
          headLength += data.length;
        }
      }
    } catch (err) {
      throw signal.aborted ? abortError(signal) : internal(`reading layer blob: ${errorMessage(err)}`, err);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    const first = Buffer.concat(head);
    const compression = detect(first);
    async function* replay(): AsyncGenerator<Buffer> {
      if (first.length > 0) yield first;
      if (done) return;
      for (let next = await raw.next(); next.done !== true; next = await raw.next()) yield toBuffer(next.value);
    }
    const zlibOptions = { chunkSize: CHUNK, highWaterMark: CHUNK };
    const output =
      compression === 'gzip'
        ? createGunzip(zlibOptions)
        : compression === 'zstd'
          ? createZstdDecompress(zlibOptions)
          : new PassThrough({ highWaterMark: CHUNK });
    // Errors reach the consumer through `output`, which pipeline destroys with the first error of any stage.
    pipeline(Readable.from(replay(), { objectMode: false, highWaterMark: CHUNK }), output, () => undefined);
    const source = new LayerSource(input, output, compression, signal);
    if (signal.aborted) source.#onAbort();
    return source;
  }

  /** Up to `max` (≥ 1) bytes without copying; an empty buffer only at the end of the stream. */
  async take(max: number): Promise<Buffer> {
    if (this.#pos >= this.#chunk.length && !(await this.#fill())) return EMPTY;
    const n = Math.min(max, this.#chunk.length - this.#pos);
    const out = this.#chunk.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }

  /** Exactly `n` bytes, or fewer only at the end of the stream. */
  async read(n: number): Promise<Buffer> {
    const first = await this.take(n);
    if (first.length === n || first.length === 0) return first;
    const parts = [first];
    let got = first.length;
    while (got < n) {
      const more = await this.take(n - got);
      if (more.length === 0) break;
      parts.push(more);
      got += more.length;
    }
    return Buffer.concat(parts, got);
  }

  /** Discards up to `n` bytes; returns how many there were. */
  async skip(n: number): Promise<number> {
    let skipped = 0;
    while (skipped < n) {
      const data = await this.take(n - skipped);
      if (data.length === 0) break;
      skipped += data.length;
    }
    return skipped;
  }

  /** Reads (and so hashes) whatever is left. */
  async drain(): Promise<void> {
    this.#pos = this.#chunk.length;
    while (await this.#fill()) this.#pos = this.#chunk.length;
  }

  digest(): string {
    return this.#hash.digest('hex');
  }

  /** Stops everything: idempotent, safe after success. */
  close(): void {
    this.signal.removeEventListener('abort', this.#onAbort);
    this.output.destroy();
    this.input.destroy();
  }

  async #fill(): Promise<boolean> {
    for (;;) {
      if (this.#error !== undefined) throw this.#wrap(this.#error);
      const data = this.#queue.shift();
      if (data !== undefined) {
        this.#queued -= data.length;
        if (this.output.isPaused() && this.#queued < QUEUE_HIGH / 2) this.output.resume();
        this.#hash.update(data);
        this.size += data.length;
        this.#chunk = data;
        this.#pos = 0;
        return true;
      }
      if (this.#ended) return false;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #fail(err: unknown): void {
    this.#error ??= err;
    this.#notify();
  }

  #wrap(err: unknown): Error {
    if (isCriError(err)) return err;
    if (this.signal.aborted) return abortError(this.signal);
    if (err === this.#inputError) return internal(`reading layer blob: ${errorMessage(err)}`, err);
    return new CriError('InvalidArgument', `layer ${this.compression} data is corrupt: ${errorMessage(err)}`, {
      cause: err,
    });
  }
}

function toBuffer(data: Buffer | string): Buffer {
  return typeof data === 'string' ? Buffer.from(data) : data;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------------------------------------------------------
// Tar reading: a streaming reader with the framing rules of Go's archive/tar (containerd's reader).
//
// Not node-tar's Parser, although `tar` is a dependency: its PAX parser keeps only the keys it knows, so
// SCHILY.xattr.* records (security.capability) never reach an entry, and it decodes PAX bodies as UTF-8, which
// would mangle binary values anyway; it reads devmajor/devminor only from POSIX-magic headers, not GNU ones; and
// it applies global PAX headers to later entries, which Go and containerd do not.

type EntryKind = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

interface TarEntry {
  kind: EntryKind;
  /** The name as archived (PAX path or GNU long name applied), not yet cleaned. */
  name: string;
  linkname: string;
  mode: number;
  uid: number;
  gid: number;
  /** Body bytes (regular files only). */
  size: number;
  /** Seconds since the epoch, possibly fractional. */
  mtime: number;
  atime: number | undefined;
  devmajor: number;
  devminor: number;
  xattrs: [string, Buffer][];
}

const BLOCK = 512;
/** Go's archive/tar limit for PAX and GNU long-name bodies. */
const MAX_META = 1024 * 1024;
const KINDS: Record<string, EntryKind> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};
const utf8 = new TextDecoder('utf-8');

class TarReader {
  /** Unread body bytes of the current entry, then its padding. */
  #remaining = 0;
  #padding = 0;
  #ended = false;
  #last = '';

  constructor(private readonly source: LayerSource) {}

  /** The next filesystem entry, or undefined at the end of the archive. Skips what is left of the current one. */
  async next(): Promise<TarEntry | undefined> {
    if (this.#ended) return undefined;
    const entry = await this.#next();
    if (entry === undefined) this.#ended = true;
    return entry;
  }

  async #next(): Promise<TarEntry | undefined> {
    if (this.#remaining > 0) await this.#skipBody();
    if (this.#padding > 0) {
      // A missing final padding is tolerated as Go's tryReadFull does: EOF here simply ends the archive.
      if ((await this.source.skip(this.#padding)) < this.#padding) return undefined;
      this.#padding = 0;
    }
    let pax: Map<string, Buffer> | undefined;
    let longName: string | undefined;
    let longLink: string | undefined;
    for (;;) {
      const block = await this.source.read(BLOCK);
      // No end-of-archive marker: EOF on a header boundary ends the archive (umoci 0.4.7 layers).
      if (block.length === 0) return undefined;
      if (block.length < BLOCK) {
        if (isZero(block)) return undefined;
        throw this.#corrupt('archive ends inside a tar header');
      }
      if (isZero(block)) {
        const second = await this.source.read(BLOCK);
        if (isZero(second)) return undefined;
        throw this.#corrupt('a zero block is followed by data');
      }
      const h = parseHeader(block, this.#last);
      if (h.typeflag === 'x' || h.typeflag === 'g' || h.typeflag === 'L' || h.typeflag === 'K') {
        if (h.size > MAX_META) throw this.#corrupt(`a ${h.typeflag} header of ${String(h.size)} bytes is too big`);
        const body = await this.source.read(h.size);
        if (body.length < h.size) throw this.#corrupt('archive ends inside a tar header');
        if ((await this.source.skip(padding(h.size))) < padding(h.size)) return undefined;
        // Global PAX headers are returned by Go as entries of their own, which containerd ignores.
        if (h.typeflag === 'x') pax = parsePax(body, this.#last);
        else if (h.typeflag === 'L') longName = cString(body);
        else if (h.typeflag === 'K') longLink = cString(body);
        continue;
      }
      const entry = buildEntry(h, pax, longName, longLink);
      this.#last = entry.name;
      this.#remaining = entry.size;
      this.#padding = padding(entry.size);
      return entry;
    }
  }

  /** Up to `max` bytes of the current entry's body; refuses a body the archive cuts short. */
  async readBody(max: number): Promise<Buffer> {
    const data = await this.source.take(Math.min(max, this.#remaining));
    if (data.length === 0) throw this.#truncated();
    this.#remaining -= data.length;
    return data;
  }

  async #skipBody(): Promise<void> {
    const skipped = await this.source.skip(this.#remaining);
    this.#remaining -= skipped;
    if (this.#remaining > 0) throw this.#truncated();
  }

  #truncated(): CriError {
    return invalidArgument(`layer entry "${this.#last}" is truncated: ${String(this.#remaining)} bytes missing`);
  }

  #corrupt(why: string): CriError {
    const where = this.#last === '' ? 'at its start' : `after entry "${this.#last}"`;
    return invalidArgument(`layer tar is corrupt ${where}: ${why}`);
  }
}

interface RawHeader {
  name: string;
  linkname: string;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  devmajor: number;
  devminor: number;
}

function parseHeader(block: Buffer, last: string): RawHeader {
  const where = last === '' ? 'the first header' : `the header after entry "${last}"`;
  const field = (offset: number, width: number, what: string): number => {
    const value = parseNumber(block.subarray(offset, offset + width));
    if (value === undefined) throw invalidArgument(`layer tar is corrupt: bad ${what} field in ${where}`);
    return value;
  };
  const checksum = field(148, 8, 'checksum');
  // Like Go, accept the checksum computed over unsigned or signed bytes (old tars used the latter).
  let unsigned = 8 * 0x20;
  let signed = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) {
    if (i >= 148 && i < 156) continue;
    const byte = block[i] ?? 0;
    unsigned += byte;
    signed += byte < 128 ? byte : byte - 256;
  }
  if (checksum !== unsigned && checksum !== signed) {
    throw invalidArgument(`layer tar is corrupt: checksum mismatch in ${where}`);
  }
  const magic = block.toString('latin1', 257, 265);
  const ustar = magic === 'ustar\u000000';
  const gnu = magic === 'ustar  \0';
  let name = cString(block.subarray(0, 100));
  if (ustar) {
    // The star format keeps atime/ctime after a 131-byte prefix and marks itself with "tar\0" at the end.
    const star = block.toString('latin1', 508, 512) === 'tar\0';
    const prefix = cString(block.subarray(345, star ? 345 + 131 : 345 + 155));
    if (prefix !== '') name = `${prefix}/${name}`;
  }
  const size = field(124, 12, 'size');
  if (size < 0) throw invalidArgument(`layer tar is corrupt: negative size in ${where}`);
  return {
    name,
    linkname: cString(block.subarray(157, 257)),
    typeflag: String.fromCharCode(block[156] ?? 0),
    mode: field(100, 8, 'mode'),
    uid: field(108, 8, 'uid'),
    gid: field(116, 8, 'gid'),
    size,
    mtime: field(136, 12, 'mtime'),
    devmajor: ustar || gnu ? field(329, 8, 'devmajor') : 0,
    devminor: ustar || gnu ? field(337, 8, 'devminor') : 0,
  };
}

function buildEntry(
  h: RawHeader,
  pax: Map<string, Buffer> | undefined,
  longName: string | undefined,
  longLink: string | undefined,
): TarEntry {
  let name = h.name;
  let linkname = h.linkname;
  let { uid, gid, size, mtime } = h;
  let atime: number | undefined;
  const xattrs: [string, Buffer][] = [];
  if (pax !== undefined) {
    for (const [key, value] of pax) {
      const text = (): string => utf8.decode(value);
      const number = (): number => {
        if (!/^-?[0-9]+(\.[0-9]*)?$/.test(text())) {
          throw invalidArgument(`layer entry "${name}" has a bad PAX ${key} record`);
        }
        return Number(text());
      };
      if (key === 'path') name = text();
      else if (key === 'linkpath') linkname = text();
      else if (key === 'uid') uid = number();
      else if (key === 'gid') gid = number();
      else if (key === 'size') size = number();
      else if (key === 'mtime') mtime = number();
      else if (key === 'atime') atime = number();
      else if (key.startsWith('SCHILY.xattr.')) xattrs.push([key.slice('SCHILY.xattr.'.length), value]);
      else if (key.startsWith('GNU.sparse.')) {
        throw invalidArgument(`layer entry "${name}" is a sparse file, which is not supported`);
      }
    }
  }
  // Go applies a GNU long name over a PAX path, so the same here.
  if (longName !== undefined) name = longName;
  if (longLink !== undefined) linkname = longLink;
  if (name.includes('\0') || linkname.includes('\0')) {
    throw invalidArgument(`layer entry "${name.replaceAll('\0', '\\0')}" has a NUL byte in its name`);
  }
  if (!Number.isSafeInteger(size) || size < 0 || !Number.isSafeInteger(uid) || !Number.isSafeInteger(gid)) {
    throw invalidArgument(`layer entry "${name}" has an out-of-range size or owner`);
  }
  let kind = KINDS[h.typeflag];
  // Old tars marked directories as regular files whose name ends in a slash.
  if (h.typeflag === '\0' && name.endsWith('/')) kind = 'dir';
  if (kind === undefined) {
    throw invalidArgument(`layer entry "${name}" has unsupported tar type '${printable(h.typeflag)}'`);
  }
  return {
    kind,
    name,
    linkname,
    mode: h.mode & 0o7777,
    uid,
    gid,
    // As in Go's archive/tar, only regular files have a body; other types' size fields are ignored.
    size: kind === 'file' ? size : 0,
    mtime,
    atime,
    devmajor: h.devmajor,
    devminor: h.devminor,
    xattrs,
  };
}

/** PAX records "<len> <key>=<value>\n"; values stay bytes (xattrs are binary). Later records win. */
function parsePax(body: Buffer, last: string): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  const bad = () => invalidArgument(`layer tar is corrupt: bad PAX record after entry "${last}"`);
  let pos = 0;
  while (pos < body.length) {
    // Trailing NULs after the last record are tolerated: they are padding, not a record.
    if (body[pos] === 0) break;
    const space = body.indexOf(0x20, pos);
    if (space < 0) throw bad();
    const lengthText = body.toString('latin1', pos, space);
    const length = Number(lengthText);
    if (!/^[0-9]+$/.test(lengthText) || length <= space - pos + 1 || pos + length > body.length) throw bad();
    const record = body.subarray(space + 1, pos + length);
    if (record[record.length - 1] !== 0x0a) throw bad();
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw bad();
    records.set(utf8.decode(record.subarray(0, eq)), Buffer.from(record.subarray(eq + 1, record.length - 1)));
    pos += length;
  }
  return records;
}

/**
 * A numeric header field: octal text (spaces and NULs around it ignored) or, when the top bit of the first byte
 * is set, GNU base-256 (two's complement). undefined when it is neither.
 */
function parseNumber(field: Buffer): number | undefined {
  const first = field[0] ?? 0;
  if ((first & 0x80) !== 0) {
    // A negative number is stored inverted (-a-1 == ~a): invert the bytes back and read them unsigned.
    const invert = (first & 0x40) !== 0 ? 0xff : 0;
    let value = 0;
    for (let i = 0; i < field.length; i++) {
      let byte = (field[i] ?? 0) ^ invert;
      if (i === 0) byte &= 0x7f;
      value = value * 256 + byte;
      if (value > Number.MAX_SAFE_INTEGER) return undefined;
    }
    return invert === 0 ? value : -value - 1;
  }
  const text = field.toString('latin1').replace(/^[ \0]+|[ \0]+$/g, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) return undefined;
  return parseInt(text, 8);
}

function cString(data: Buffer): string {
  const nul = data.indexOf(0);
  return utf8.decode(nul < 0 ? data : data.subarray(0, nul));
}

function isZero(block: Buffer): boolean {
  for (const byte of block) if (byte !== 0) return false;
  return true;
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

function printable(typeflag: string): string {
  return /^[\x20-\x7e]$/.test(typeflag) ? typeflag : `\\x${typeflag.charCodeAt(0).toString(16).padStart(2, '0')}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Writing entries

const WHITEOUT_PREFIX = '.wh.';
const WHITEOUT_META_PREFIX = '.wh..wh.';
const WHITEOUT_OPAQUE = '.wh..wh..opq';
const S_ISGID = 0o2000;
const O_CREATE_NEW = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;

/** The process umask, read once from /proc (process.umask() without an argument is deprecated). */
let umaskRead: Promise<number | undefined> | undefined;
function processUmask(): Promise<number | undefined> {
  umaskRead ??= readFile('/proc/self/status', 'utf8').then(
    (status) => {
      const match = /^Umask:\s*([0-7]+)$/m.exec(status);
      return match?.[1] === undefined ? undefined : parseInt(match[1], 8);
    },
    () => undefined,
  );
  return umaskRead;
}

/**
 * Cleans an archive path lexically: leading "/" and "./" go (an absolute "/etc/passwd" is "etc/passwd" inside
 * the layer), "." and ".." components resolve. undefined when ".." climbs above the layer root.
 */
function cleanPath(name: string): string | undefined {
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.pop() === undefined) return undefined;
      continue;
    }
    parts.push(part);
  }
  return parts.join('/');
}

function parentOf(rel: string): string {
  const slash = rel.lastIndexOf('/');
  return slash < 0 ? '' : rel.slice(0, slash);
}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

class LayerWriter {
  /**
   * Directories known to be real directories whose every ancestor is one too (never a symlink), by path relative
   * to the root ('' is the root), with whether they carry the setgid bit (new entries inside inherit its group).
   * Filled as directories are created or checked; anything removed takes its subtree out again.
   */
  readonly #dirs = new Map<string, boolean>();
  /** Directory times, applied at the end: creating entries inside a directory changes its mtime. */
  readonly #dirTimes = new Map<string, [number, number]>();
  readonly #tails = new Tails();
  readonly #uid = process.geteuid?.() ?? 0;
  readonly #gid = process.getegid?.() ?? 0;

  private constructor(
    private readonly root: string,
    private readonly umask: number | undefined,
    rootSetgid: boolean,
  ) {
    this.#dirs.set('', rootSetgid);
  }

  static async open(destDir: string): Promise<LayerWriter> {
    const st = await lstat(destDir);
    if (!st.isDirectory()) throw invalidArgument(`layer directory ${destDir} is not a directory`);
    return new LayerWriter(destDir, await processUmask(), (st.mode & S_ISGID) !== 0);
  }

  async write(entry: TarEntry, tar: TarReader): Promise<void> {
    const rel = cleanPath(entry.name);
    if (rel === undefined) throw invalidArgument(`layer entry "${entry.name}" escapes the layer directory`);
    // Like containerd, an entry naming the root itself ("./") is ignored: the root belongs to the caller.
    if (rel === '') return;
    try {
      const base = rel.slice(rel.lastIndexOf('/') + 1);
      if (base.startsWith(WHITEOUT_PREFIX)) {
        await this.#whiteout(entry, rel, base);
        return;
      }
      await this.#parents(entry, rel);
      switch (entry.kind) {
        case 'file':
          await this.#file(entry, rel, tar);
          break;
        case 'dir':
          await this.#dir(entry, rel);
          break;
        case 'symlink':
          await this.#symlink(entry, rel);
          break;
        case 'hardlink':
          await this.#hardlink(entry, rel);
          break;
        case 'char':
        case 'block':
        case 'fifo':
          await this.#node(entry, rel);
          break;
      }
    } catch (err) {
      throw entryError(entry, err);
    }
  }

  /**
   * Applies the directory times held back while their content was written. Setting one directory's times does
   * not touch another's, so they go in parallel batches.
   */
  async finish(): Promise<void> {
    await this.#tails.settle();
    const pending = [...this.#dirTimes];
    for (let i = 0; i < pending.length; i += 64) {
      await Promise.all(
        pending.slice(i, i + 64).map(([rel, [atime, mtime]]) => lutimes(join(this.root, rel), atime, mtime)),
      );
    }
  }

  /** Stops after a failure: waits for the file tails still running, ignoring their errors. */
  async abandon(): Promise<void> {
    await this.#tails.settle().catch(() => undefined);
  }

  /**
   * A regular file. Only the open is awaited here for a small file: its body (held without copying), owner,
   * mode, times and close are left to a tail that works on the file descriptor alone while the next entries are
   * unpacked. That is safe whatever those entries do (replace this path, link to it, remove its directory): an
   * fd keeps naming this inode. Thread-pool round trips, not bytes, are what small files cost.
   */
  async #file(entry: TarEntry, rel: string, tar: TarReader): Promise<void> {
    const path = join(this.root, rel);
    const fd = await this.#create(rel, () => openFd(path, O_CREATE_NEW, entry.mode));
    let chown = this.#needsChown(entry, rel);
    let chmod = this.#needsChmod(entry.mode);
    const hold = entry.size <= HOLD_MAX;
    const held: Buffer[] = [];
    let tail: Promise<void> | undefined;
    try {
      for (let left = entry.size; left > 0;) {
        const data = await tar.readBody(left);
        if (hold) held.push(data);
        else await writeAll(fd, data);
        left -= data.length;
      }
      if (entry.xattrs.length > 0) {
        // xattrs go by path, which names this file only until the next entry: finish up to them here. chown
        // clears setuid/setgid and file capabilities, so it comes first, then the mode, then the xattrs.
        await writevAll(fd, held.splice(0));
        if (chown) await fdCall(fs.fchown, fd, entry.uid, entry.gid);
        if (chmod) await fdCall(fs.fchmod, fd, entry.mode);
        this.#xattrs(entry, path);
        chown = chmod = false;
      }
      tail = fileTail(fd, held, chown, chmod, entry).catch((err: unknown) => {
        throw entryError(entry, err);
      });
    } finally {
      if (tail === undefined) await fdCall(fs.close, fd);
    }
    await this.#tails.add(tail, hold ? entry.size : 0);
  }

  async #dir(entry: TarEntry, rel: string): Promise<void> {
    const path = join(this.root, rel);
    let created = true;
    try {
      await mkdir(path, entry.mode);
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
      // A directory over a directory only updates its metadata; over anything else it replaces it.
      if (this.#dirs.has(rel) || (await lstat(path)).isDirectory()) created = false;
      else {
        await this.#remove(rel);
        await mkdir(path, entry.mode);
      }
    }
    if (!created || this.#needsChown(entry, rel)) await lchown(path, entry.uid, entry.gid);
    // mkdir ignores setuid/setgid and inherits the parent's setgid: set the archived mode exactly.
    const inherits = this.#dirs.get(parentOf(rel)) === true;
    if (!created || inherits || this.#needsChmod(entry.mode)) {
      await fs.promises.chmod(path, entry.mode);
    }
    this.#xattrs(entry, path);
    this.#dirs.set(rel, (entry.mode & S_ISGID) !== 0);
    this.#dirTimes.set(rel, times(entry));
  }

  async #symlink(entry: TarEntry, rel: string): Promise<void> {
    const path = join(this.root, rel);
    // The target is kept verbatim: it is resolved inside the container, and nothing here ever follows it.
    await this.#create(rel, () => symlink(entry.linkname, path));
    if (this.#needsChown(entry, rel)) await lchown(path, entry.uid, entry.gid);
    this.#xattrs(entry, path);
    await lutimes(path, ...times(entry));
  }

  async #hardlink(entry: TarEntry, rel: string): Promise<void> {
    const target = cleanPath(entry.linkname);
    const refuse = (why: string) =>
      invalidArgument(`layer entry "${entry.name}" is a hard link to "${entry.linkname}", which ${why}`);
    if (target === undefined) throw refuse('escapes the layer directory');
    if (target === '') throw refuse('is the layer root');
    if (target === rel) throw refuse('is the link itself');
    // The target must be something this layer wrote (destDir started empty), reached without any symlink.
    await this.#parents(entry, target, refuse);
    let st: fs.Stats;
    try {
      st = await lstat(join(this.root, target));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw refuse('does not exist in the layer');
      throw err;
    }
    if (st.isDirectory()) throw refuse('is a directory');
    const path = join(this.root, rel);
    // link(2) does not follow a symlink target, so a link to a symlink is a second name for the symlink. The
    // inode keeps its metadata: the target entry set it, and a chown here would drop its file capabilities.
    await this.#create(rel, () => link(join(this.root, target), path));
  }

  async #node(entry: TarEntry, rel: string): Promise<void> {
    const path = join(this.root, rel);
    const type = entry.kind === 'char' ? S_IFCHR : entry.kind === 'block' ? S_IFBLK : S_IFIFO;
    await this.#create(rel, () => mknod(path, type | entry.mode, entry.devmajor, entry.devminor));
    if (this.#needsChown(entry, rel)) await lchown(path, entry.uid, entry.gid);
    // chmod follows symlinks, but this path was just created as a device or fifo by this writer.
    if (this.#needsChmod(entry.mode)) await fs.promises.chmod(path, entry.mode);
    this.#xattrs(entry, path);
    await lutimes(path, ...times(entry));
  }

  /** OCI whiteouts in overlayfs form; `base` starts with ".wh.". */
  async #whiteout(entry: TarEntry, rel: string, base: string): Promise<void> {
    const dir = parentOf(rel);
    if (base === WHITEOUT_OPAQUE) {
      // The marker may come before its directory's own entry: the directory is then made like any missing parent.
      await this.#parents(entry, rel);
      lsetxattr(join(this.root, dir), 'trusted.overlay.opaque', Buffer.from('y'));
      return;
    }
    // Other ".wh..wh." names are aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs), meaningless to overlayfs.
    if (base.startsWith(WHITEOUT_META_PREFIX)) return;
    const name = base.slice(WHITEOUT_PREFIX.length);
    if (name === '' || name === '.' || name === '..') {
      throw invalidArgument(`layer entry "${entry.name}" is a whiteout of an invalid name`);
    }
    const hidden = dir === '' ? name : `${dir}/${name}`;
    await this.#parents(entry, hidden);
    const path = join(this.root, hidden);
    // overlayfs reads a 0/0 character device as "deleted"; containerd gives it the entry's owner.
    await this.#create(hidden, () => mknod(path, S_IFCHR, 0, 0));
    if (this.#needsChown(entry, hidden)) await lchown(path, entry.uid, entry.gid);
  }

  /**
   * Makes sure every parent of `rel` is a real directory, reached without symlinks. Missing parents are created
   * (0755, owned by us, as containerd does) unless `refuse` is given: then they are refused through it.
   */
  async #parents(entry: TarEntry, rel: string, refuse?: (why: string) => CriError): Promise<void> {
    const fail = refuse ?? ((why: string) => invalidArgument(`layer entry "${entry.name}" ${why}`));
    const parent = parentOf(rel);
    if (this.#dirs.has(parent)) return;
    const parts = parent.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (this.#dirs.has(dir)) continue;
      const path = join(this.root, dir);
      let st: fs.Stats | undefined;
      try {
        st = await lstat(path);
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
      }
      if (st === undefined) {
        if (refuse !== undefined) throw refuse('does not exist in the layer');
        await mkdir(path, 0o755);
        if (this.#dirs.get(parentOf(dir)) === true || this.#needsChmod(0o755)) {
          await fs.promises.chmod(path, 0o755);
        }
        this.#dirs.set(dir, false);
      } else if (st.isDirectory()) {
        this.#dirs.set(dir, (st.mode & S_ISGID) !== 0);
      } else if (st.isSymbolicLink()) {
        throw fail(`has a symlink in its path: "${dir}"`);
      } else {
        throw fail(`has a non-directory in its path: "${dir}"`);
      }
    }
  }

  /** Runs `make`; when the path exists already (an earlier entry of this layer), removes it and runs it again. */
  async #create<T>(rel: string, make: () => T | Promise<T>): Promise<T> {
    try {
      return await make();
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
    await this.#remove(rel);
    return await make();
  }

  async #remove(rel: string): Promise<void> {
    const path = join(this.root, rel);
    if ((await lstat(path)).isDirectory()) await rm(path, { recursive: true, force: true });
    else await unlink(path);
    for (const map of [this.#dirs, this.#dirTimes]) {
      for (const key of map.keys()) if (key === rel || key.startsWith(`${rel}/`)) map.delete(key);
    }
  }

  #needsChown(entry: TarEntry, rel: string): boolean {
    // A new inode is ours, except that a setgid parent hands down its group.
    return entry.uid !== this.#uid || entry.gid !== this.#gid || this.#dirs.get(parentOf(rel)) === true;
  }

  /**
   * Whether an inode created with `mode` may end up with other bits: the umask clears some, and the special bits
   * are dropped by mkdir and chown (or inherited), so those always get an explicit chmod.
   */
  #needsChmod(mode: number): boolean {
    return this.umask === undefined || (mode & 0o7000) !== 0 || (mode & this.umask) !== 0;
  }

  #xattrs(entry: TarEntry, path: string): void {
    for (const [name, value] of entry.xattrs) {
      try {
        lsetxattr(path, name, value);
      } catch (err) {
        // As containerd: a filesystem without xattrs, or a security module refusing security.*, is not fatal.
        const code = errnoCode(err);
        if (code === 'ENOTSUP' || code === 'EOPNOTSUPP') continue;
        if (code === 'EPERM' && name.startsWith('security.')) continue;
        throw err;
      }
    }
  }
}

/** A file body up to this size is held (without copying) and written by the file's tail. */
const HOLD_MAX = 256 * 1024;
/** Tails in flight, and the body bytes they hold, before the next entry waits for one to finish. */
const TAILS_MAX = 64;
const TAIL_BYTES_MAX = 8 * 1024 * 1024;

/** The rest of a regular file, by file descriptor only: body, owner, mode, times, close. */
async function fileTail(
  fd: number,
  held: Buffer[],
  chown: boolean,
  chmod: boolean,
  entry: TarEntry,
): Promise<void> {
  try {
    await writevAll(fd, held);
    if (chown) await fdCall(fs.fchown, fd, entry.uid, entry.gid);
    if (chmod) await fdCall(fs.fchmod, fd, entry.mode);
    await fdCall(fs.futimes, fd, ...times(entry));
  } finally {
    await fdCall(fs.close, fd);
  }
}

/** The file tails still running, bounded in number and held bytes; the first failure is kept for the caller. */
class Tails {
  readonly #running = new Map<Promise<void>, number>();
  #bytes = 0;
  #failed = false;
  #failure: unknown;

  /** Tracks `tail`, then waits while too many are in flight; throws an earlier tail's failure. */
  async add(tail: Promise<void>, bytes: number): Promise<void> {
    const tracked: Promise<void> = tail
      .catch((err: unknown) => {
        if (!this.#failed) [this.#failed, this.#failure] = [true, err];
      })
      .finally(() => {
        this.#bytes -= this.#running.get(tracked) ?? 0;
        this.#running.delete(tracked);
      });
    this.#running.set(tracked, bytes);
    this.#bytes += bytes;
    while (this.#running.size >= TAILS_MAX || this.#bytes > TAIL_BYTES_MAX) {
      await Promise.race(this.#running.keys());
    }
    if (this.#failed) throw this.#failure;
  }

  async settle(): Promise<void> {
    await Promise.all(this.#running.keys());
    if (this.#failed) throw this.#failure;
  }
}

/** An fs failure while writing an entry, named after it; refusals (CriErrors) pass through. */
function entryError(entry: TarEntry, err: unknown): Error {
  if (isCriError(err)) return err;
  const message = `unpacking layer entry "${entry.name}": ${errorMessage(err)}`;
  const code = errnoCode(err);
  if (code === 'ENOSPC' || code === 'EDQUOT') return new CriError('ResourceExhausted', message, { cause: err });
  return internal(message, err);
}

/** [atime, mtime] in seconds: containerd uses the later of the two as atime, and nothing before the epoch. */
function times(entry: TarEntry): [number, number] {
  const mtime = Math.max(0, entry.mtime);
  const atime = entry.atime !== undefined && entry.atime > mtime ? entry.atime : mtime;
  return [atime, mtime];
}

function openFd(path: string, flags: number, mode: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.open(path, flags, mode, (err, fd) => (err === null ? resolve(fd) : reject(err)));
  });
}

async function writeAll(fd: number, data: Buffer): Promise<void> {
  for (let offset = 0; offset < data.length;) {
    offset += await new Promise<number>((resolve, reject) => {
      fs.write(fd, data, offset, data.length - offset, null, (err, written) =>
        err === null ? resolve(written) : reject(err),
      );
    });
  }
}

/** One writev(2) for a file's pieces; a short write (a full disk, say) continues piece by piece. */
async function writevAll(fd: number, pieces: Buffer[]): Promise<void> {
  if (pieces.length === 0) return;
  const total = pieces.reduce((sum, piece) => sum + piece.length, 0);
  let written = await new Promise<number>((resolve, reject) => {
    fs.writev(fd, pieces, null, (err, n) => (err === null ? resolve(n) : reject(err)));
  });
  if (written === total) return;
  for (const piece of pieces) {
    if (written >= piece.length) written -= piece.length;
    else {
      await writeAll(fd, piece.subarray(written));
      written = 0;
    }
  }
}

/** Promisifies an fd-based fs call (fchown, fchmod, futimes, close) without allocating FileHandles. */
function fdCall<A extends unknown[]>(
  call: (fd: number, ...rest: [...A, (err: NodeJS.ErrnoException | null) => void]) => void,
  fd: number,
  ...args: A
): Promise<void> {
  return new Promise((resolve, reject) => {
    call(fd, ...args, (err: NodeJS.ErrnoException | null) => (err === null ? resolve() : reject(err)));
  });
}
