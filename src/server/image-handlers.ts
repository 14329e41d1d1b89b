import type { Image, ImageServiceMethods, Init } from '../cri/types.js';
import type { ImageRecord } from '../image/image-store.js';
import { imageUser } from '../image/manifest.js';
import type { ImageService } from '../image/image-service.js';
import { credentialsFromCri } from '../image/registry-auth.js';
import type { ServiceHandlers } from './adapter.js';

function toCriImage(image: ImageRecord): Init<Image> {
  const user = imageUser(image.user);
  return {
    id: image.id,
    repo_tags: [...image.repoTags].sort(),
    repo_digests: [...image.repoDigests].sort(),
    size: image.size,
    // Int64Value: absent when the image runs as a named user (api.proto Image.uid).
    uid: user.uid === undefined ? null : { value: user.uid },
    username: user.username,
    spec: { image: image.id, annotations: image.annotations },
    pinned: image.pinned,
  };
}

/** The CRI ImageService over src/image. */
export function imageHandlers(images: ImageService): ServiceHandlers<ImageServiceMethods> {
  return {
    PullImage: async (request, ctx) => {
      const spec = request.image;
      const record = await images.pull(
        {
          image: spec?.image ?? '',
          credentials: credentialsFromCri(request.auth),
          annotations: spec?.annotations ?? {},
        },
        ctx.signal,
        ctx.log,
      );
      return { image_ref: record.id };
    },

    // api.proto: "If the image is not present, returns a response with ImageStatusResponse.Image set to nil."
    ImageStatus: async (request) => {
      const image = await images.resolve(request.image?.image ?? '');
      if (image === undefined) return { image: null, info: {} };
      const info: Record<string, string> = {};
      if (request.verbose) {
        info['info'] = JSON.stringify({
          id: image.id,
          manifestDigest: image.manifestDigest,
          manifestMediaType: image.manifestMediaType,
          layers: image.layers,
          pulledAt: image.pulledAt,
          imageSpec: await images.config(image),
        });
      }
      return { image: toCriImage(image), info };
    },

    ListImages: async (request) => {
      const wanted = request.filter?.image?.image ?? '';
      if (wanted === '') return { images: images.list().map((i) => toCriImage(i)) };
      const image = await images.resolve(wanted);
      return { images: image === undefined ? [] : [toCriImage(image)] };
    },

    StreamImages: async (request, _ctx, send) => {
      const wanted = request.filter?.image?.image ?? '';
      const list = wanted === '' ? images.list() : [await images.resolve(wanted)].filter((i) => i !== undefined);
      // One message per chunk keeps each under the gRPC size limit however many images there are.
      for (let i = 0; i < list.length; i += 100) {
        await send({ images: list.slice(i, i + 100).map((img) => toCriImage(img)) });
      }
    },

    RemoveImage: async (request, ctx) => {
      await images.remove(request.image?.image ?? '', ctx.log);
      return {};
    },

    ImageFsInfo: async (_request, ctx) => {
      const { mountpoint, usage } = await images.usage(ctx.signal);
      return {
        image_filesystems: [
          {
            timestamp: BigInt(Date.now()) * 1_000_000n,
            fs_id: { mountpoint },
            used_bytes: { value: usage.bytes },
            inodes_used: { value: usage.inodes },
          },
        ],
      };
    },
  };
}
