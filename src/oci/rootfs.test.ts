// Real mounts (root only): overlay and bind mounts in a temp dir, all unmounted and removed afterwards.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { mountCount } from './mountinfo.js';
import { mountImageRootfs, unmountRootfs } from './rootfs.js';

const root = process.getuid?.() === 0;
const dir = await mkdtemp(join(tmpdir(), 'cri-ts-rootfs-'));
const targets: string[] = [];
after(async () => {
  for (const t of targets) await unmountRootfs(t);
  await rm(dir, { recursive: true, force: true });
});
const never = new AbortController().signal;

async function layer(name: string, files: Record<string, string>): Promise<string> {
  const d = join(dir, 'layers', name);
  await mkdir(d, { recursive: true });
  for (const [file, body] of Object.entries(files)) await writeFile(join(d, file), body);
  return d;
}

async function target(name: string): Promise<string> {
  const t = join(dir, 'mnt', name);
  await mkdir(t, { recursive: true });
  targets.push(t);
  return t;
}

describe('rootfs mounts', { skip: !root && 'needs root' }, () => {
  it('stacks layers base first: the later layer wins', async () => {
    const lower = await layer('base', { a: 'base', b: 'base' });
    const upper = await layer('top', { b: 'top' });
    const t = await target('ro-overlay');
    await mountImageRootfs([lower, upper], t, { readonly: true }, never);
    assert.equal(await readFile(join(t, 'a'), 'utf8'), 'base');
    assert.equal(await readFile(join(t, 'b'), 'utf8'), 'top');
    await assert.rejects(writeFile(join(t, 'c'), 'x'), { code: 'EROFS' });
    await assert.rejects(mountImageRootfs([lower, upper], t, { readonly: true }, never), {
      kind: 'FailedPrecondition',
    });
    await unmountRootfs(t);
    assert.equal(await mountCount(t), 0);
    await unmountRootfs(t);
  });

  it('bind-mounts a single layer read-only', async () => {
    const only = await layer('single', { x: '1' });
    const t = await target('single');
    await mountImageRootfs([only], t, { readonly: true }, never);
    assert.equal(await readFile(join(t, 'x'), 'utf8'), '1');
    await assert.rejects(writeFile(join(t, 'y'), 'x'), { code: 'EROFS' });
    await unmountRootfs(t);
    assert.equal(await mountCount(t), 0);
  });

  it('writes into the upper dir, never into the layers', async () => {
    const only = await layer('rw-base', { x: '1' });
    const t = await target('rw');
    const upperDir = join(dir, 'rw-upper');
    await mountImageRootfs([only], t, { upperDir, workDir: join(dir, 'rw-work'), readonly: false }, never);
    await writeFile(join(t, 'x'), '2');
    assert.equal(await readFile(join(upperDir, 'x'), 'utf8'), '2');
    assert.equal(await readFile(join(only, 'x'), 'utf8'), '1');
    await unmountRootfs(t);
  });

  it('names many layers relative to their parent when the options would not fit a page', async () => {
    const layers: string[] = [];
    for (let i = 0; i < 60; i++)
      layers.push(await layer(`${'l'.repeat(60)}${String(i).padStart(3, '0')}`, { [`f${String(i)}`]: String(i) }));
    const t = await target('many');
    await mountImageRootfs(layers, t, { readonly: true }, never);
    assert.equal(await readFile(join(t, 'f0'), 'utf8'), '0');
    assert.equal(await readFile(join(t, 'f59'), 'utf8'), '59');
    await unmountRootfs(t);
  });

  it('refuses what overlay cannot express and tolerates unmounting nothing', async () => {
    const t = await target('bad');
    await assert.rejects(mountImageRootfs([], t, { readonly: true }, never), { kind: 'InvalidArgument' });
    await assert.rejects(mountImageRootfs(['/a:b'], t, { readonly: true }, never), { kind: 'InvalidArgument' });
    await assert.rejects(mountImageRootfs(['/a'], t, { upperDir: '/u', readonly: false }, never), {
      kind: 'InvalidArgument',
    });
    await unmountRootfs(t);
    await unmountRootfs(join(dir, 'does-not-exist'));
  });
});
