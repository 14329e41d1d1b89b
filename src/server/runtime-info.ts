import type { Config } from '../config/config.js';
import { CgroupDriver, type RuntimeCondition, type RuntimeServiceMethods } from '../cri/types.js';
import type { HandlerFeatures } from '../oci/runtime-features.js';
import { checkHandler } from '../oci/runtime-handlers.js';
import { findCniConfig } from '../pod/cni-config.js';
import { runtimeName, runtimeVersion } from '../version.js';
import type { ServiceHandlers } from './adapter.js';

/** The kubelet API version the CRI v1 Version call reports (api.proto VersionResponse.version). */
const kubeletApiVersion = '0.1.0';

/** Version, Status and RuntimeConfig: what the node knows about the runtime before any pod exists. */
export function runtimeInfoHandlers(
  config: Config,
  handlerFeatures: (handler: string) => Promise<HandlerFeatures>,
): Pick<ServiceHandlers<RuntimeServiceMethods>, 'Version' | 'Status' | 'RuntimeConfig'> {
  const handlerNames = Object.keys(config.runtimes).sort();
  return {
    Version: () =>
      Promise.resolve({
        version: kubeletApiVersion,
        runtime_name: runtimeName,
        runtime_version: runtimeVersion,
        runtime_api_version: 'v1',
      }),

    Status: async (request) => {
      const defaultHandler = config.runtimes[config.runtime.default_runtime];
      const runtime =
        defaultHandler === undefined
          ? { name: config.runtime.default_runtime, ok: false, problem: 'not configured' }
          : await checkHandler(config.runtime.default_runtime, defaultHandler);
      const cni = await findCniConfig(config.network.cni_config_dir);
      const conditions: Partial<RuntimeCondition>[] = [
        runtime.ok
          ? { type: 'RuntimeReady', status: true }
          : {
              type: 'RuntimeReady',
              status: false,
              reason: 'RuntimeNotReady',
              message: `default runtime ${runtime.name}: ${runtime.problem ?? 'unusable'}`,
            },
        cni.ready
          ? { type: 'NetworkReady', status: true }
          : { type: 'NetworkReady', status: false, reason: cni.reason, message: cni.message },
      ];
      // Features are advertised only where they work: kubelet and critest act on them. User namespaces are not built.
      const featuresOf = async (name: string) => ({
        recursive_read_only_mounts: (await handlerFeatures(name)).recursiveReadOnlyMounts,
        user_namespaces: false,
      });
      const info: Record<string, string> = {};
      if (request.verbose) {
        info['config'] = JSON.stringify(config);
        info['cniconfig'] = JSON.stringify(cni);
        info['version'] = JSON.stringify({ runtimeName, runtimeVersion, node: process.version });
      }
      return {
        status: { conditions },
        info,
        runtime_handlers: [
          { name: '', features: await featuresOf(config.runtime.default_runtime) },
          ...(await Promise.all(handlerNames.map(async (name) => ({ name, features: await featuresOf(name) })))),
        ],
        features: { supplemental_groups_policy: true, user_namespaces_host_network: false, mount_options: false },
      };
    },

    RuntimeConfig: () =>
      Promise.resolve({
        linux: {
          cgroup_driver:
            config.runtime.cgroup_manager === 'systemd' ? CgroupDriver.SYSTEMD : CgroupDriver.CGROUPFS,
        },
      }),
  };
}
