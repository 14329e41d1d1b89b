import { join } from 'node:path';
import type { Config } from '../config/config.js';
import type { ImageServiceMethods, RuntimeServiceMethods } from '../cri/types.js';
import { ImageService } from '../image/image-service.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { ExitWatcher } from '../oci/exit-watcher.js';
import { createOciRuntime, type OciRuntime } from '../oci/oci-runtime.js';
import { CniNetwork } from '../pod/cni.js';
import { cgroupHierarchies } from '../pod/pod-cgroup.js';
import { Containers } from '../pod/container-manager.js';
import { PodSandboxes } from '../pod/sandbox-manager.js';
import type { ServiceHandlers } from './adapter.js';
import { containerHandlers } from './container-handlers.js';
import { imageHandlers } from './image-handlers.js';
import { metricsHandlers } from './metrics-handlers.js';
import { runtimeInfoHandlers } from './runtime-info.js';
import { sandboxHandlers } from './sandbox-handlers.js';

export interface Services {
  runtime: ServiceHandlers<RuntimeServiceMethods>;
  image: ServiceHandlers<ImageServiceMethods>;
  /** Stops background work (exit watching, garbage collection); containers keep running. */
  close(): Promise<void>;
}

/** Builds the domain services from the configuration and restores their state, before anything is served. */
export async function composeServices(config: Config, log: Logger, metrics: Metrics): Promise<Services> {
  const images = new ImageService({
    root: config.root,
    registriesConf: config.image.registries_conf,
    authFile: config.image.global_auth_file,
    pauseImage: config.image.pause_image,
    maxConcurrentDownloads: config.image.max_concurrent_downloads,
    log,
    metrics,
  });
  await images.init();

  const runtimes = new Map<string, OciRuntime>();
  for (const [name, handler] of Object.entries(config.runtimes)) {
    runtimes.set(
      name,
      createOciRuntime(name, handler, {
        cgroupManager: config.runtime.cgroup_manager,
        log: log.child({ handler: name }),
        cgroupV1View: handler.cgroup_v1_view,
      }),
    );
  }
  const exitDir = join(config.runroot, 'exits');
  const cgroups = await cgroupHierarchies();
  const pods = new PodSandboxes({
    config,
    log,
    images,
    runtime: (name) => runtimes.get(name === '' ? config.runtime.default_runtime : name),
    cni: new CniNetwork({
      confDir: config.network.cni_config_dir,
      pluginDirs: config.network.cni_plugin_dirs,
      cacheDir: join(config.root, 'cni'),
      log: log.child({ component: 'cni' }),
    }),
    cgroups,
    exitDir,
  });
  await pods.init();
  const containers = new Containers({
    config,
    log,
    images,
    pods,
    runtime: (name) => runtimes.get(name === '' ? config.runtime.default_runtime : name),
    exitDir,
    cgroups,
    metrics,
  });
  await containers.init();
  images.isInUse = (id) => containers.usesImage(id);
  // One exit dir for pause and workload containers: the id says whose exit it is.
  const exits = new ExitWatcher(
    exitDir,
    async (id, code) => {
      await pods.pauseExited(id, code);
      await containers.exited(id, code);
    },
    log.child({ component: 'exits' }),
  );
  await exits.start();

  return {
    runtime: {
      ...runtimeInfoHandlers(
        config,
        (name) => runtimes.get(name)?.features() ?? Promise.resolve({ recursiveReadOnlyMounts: false }),
      ),
      ...sandboxHandlers(pods, {
        stopContainers: (podId) => containers.stopAllIn(podId, log),
        removeContainers: (podId) => containers.removeAllIn(podId, log),
      }),
      ...containerHandlers(containers, pods, cgroups),
      ...metricsHandlers(containers, pods, cgroups),
    },
    image: imageHandlers(images),
    close: async () => {
      exits.close();
      await images.settled();
    },
  };
}
