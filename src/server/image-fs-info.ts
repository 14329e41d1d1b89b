import type { Config } from '../config/config.js';
import type { ImageServiceMethods } from '../cri/types.js';
import { diskUsage, imageStoreDir } from '../image/disk-usage.js';
import type { ServiceHandlers } from './adapter.js';

/** ImageFsInfo: usage of the filesystem tree that holds images (kubelet's image GC and eviction read it). */
export function imageFsInfoHandlers(config: Config): Pick<ServiceHandlers<ImageServiceMethods>, 'ImageFsInfo'> {
  return {
    ImageFsInfo: async (_request, ctx) => {
      const dir = await imageStoreDir(config.root);
      const usage = await diskUsage(dir, ctx.signal);
      return {
        image_filesystems: [
          {
            timestamp: BigInt(Date.now()) * 1_000_000n,
            fs_id: { mountpoint: dir },
            used_bytes: { value: usage.bytes },
            inodes_used: { value: usage.inodes },
          },
        ],
      };
    },
  };
}
