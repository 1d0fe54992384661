import { refreshViewCount } from '@keelson/catalog';
import { defineTask } from '../defineTask.ts';

export const catalog__refresh_view_count = defineTask(
  'catalog__refresh_view_count',
  async (payload, { em, logger }) => {
    const viewCount = await refreshViewCount(em, payload.productId);
    logger.debug(`product ${payload.productId} view_count=${viewCount}`);
  },
);
