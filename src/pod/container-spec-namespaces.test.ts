import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NamespaceMode, type NamespaceOption, type UserNamespace } from '../cri/types.js';
import { CriError } from '../errors/errors.js';
import { checkUserNamespace, containerNamespaces } from './container-spec-namespaces.js';

const kind = (k: string, re: RegExp) => (err: unknown) =>
  err instanceof CriError && err.kind === k && re.test(err.message);

const podSandbox = {
  id: 'sb1',
  namespaces: { net: '/run/cri-ts/ns/sb1/net', ipc: '/run/cri-ts/ns/sb1/ipc', uts: '/run/cri-ts/ns/sb1/uts' },
  hostNetwork: false,
  hostIpc: false,
  hostPid: false,
  pause: { containerId: 'sb1', imageId: 'sha256:p', pid: 4242, monitorPid: 4241, bundle: '/b', rootfs: '/r' },
};
const hostSandbox = { ...podSandbox, namespaces: {}, hostNetwork: true, hostIpc: true, hostPid: true };

function options(over: Partial<NamespaceOption> = {}): NamespaceOption {
  return {
    network: NamespaceMode.POD,
    pid: NamespaceMode.POD,
    ipc: NamespaceMode.POD,
    target_id: '',
    userns_options: null,
    ...over,
  };
}

describe('containerNamespaces', () => {
  it('joins the pod’s pinned namespaces and the pause process’s pid namespace; mount is always new', () => {
    assert.deepEqual(containerNamespaces(podSandbox, options()), [
      { type: 'mount' },
      { type: 'network', path: '/run/cri-ts/ns/sb1/net' },
      { type: 'ipc', path: '/run/cri-ts/ns/sb1/ipc' },
      { type: 'uts', path: '/run/cri-ts/ns/sb1/uts' },
      { type: 'pid', path: '/proc/4242/ns/pid' },
    ]);
  });

  it('an absent NamespaceOption means POD (the CRI default)', () => {
    assert.deepEqual(containerNamespaces(podSandbox, null), containerNamespaces(podSandbox, options()));
  });

  it('uses the host’s namespaces where the pod does', () => {
    assert.deepEqual(containerNamespaces(hostSandbox, options()), [{ type: 'mount' }]);
    assert.deepEqual(containerNamespaces(hostSandbox, options({ pid: NamespaceMode.NODE })), [{ type: 'mount' }]);
  });

  it('pid CONTAINER is new, NODE is the host’s, TARGET the target’s process', () => {
    const pid = (o: NamespaceOption, target?: number) =>
      containerNamespaces(podSandbox, o, target).filter((n) => n.type === 'pid');
    assert.deepEqual(pid(options({ pid: NamespaceMode.CONTAINER })), [{ type: 'pid' }]);
    assert.deepEqual(pid(options({ pid: NamespaceMode.NODE })), []);
    assert.deepEqual(pid(options({ pid: NamespaceMode.TARGET, target_id: 'c1' }), 777), [
      { type: 'pid', path: '/proc/777/ns/pid' },
    ]);
    assert.throws(
      () => containerNamespaces(podSandbox, options({ pid: NamespaceMode.TARGET, target_id: 'c1' })),
      kind('InvalidArgument', /target "c1" is not a running container/),
    );
  });

  it('fails when a namespace the pod should have was never pinned or its pause process is gone', () => {
    assert.throws(
      () => containerNamespaces({ ...podSandbox, namespaces: { net: '/n', uts: '/u' } }, null),
      kind('FailedPrecondition', /no pinned ipc namespace/),
    );
    assert.throws(
      () => containerNamespaces({ ...podSandbox, pause: { ...podSandbox.pause, pid: 0 } }, null),
      kind('FailedPrecondition', /no running pause process/),
    );
  });

  it('refuses user namespaces (POD) but accepts NODE', () => {
    const userns = (mode: NamespaceMode): UserNamespace => ({ mode, uids: [], gids: [] });
    assert.throws(
      () => containerNamespaces(podSandbox, options({ userns_options: userns(NamespaceMode.POD) })),
      kind('InvalidArgument', /^user namespaces are not supported$/),
    );
    assert.equal(
      containerNamespaces(podSandbox, options({ userns_options: userns(NamespaceMode.NODE) })).length,
      5,
    );
    assert.throws(
      () => checkUserNamespace(options({ userns_options: userns(NamespaceMode.TARGET) }), 'sandbox'),
      kind('InvalidArgument', /sandbox: user namespace mode 3/),
    );
  });
});
