import type { TaskName } from '@keelson/jobs';
import type { Task } from 'graphile-worker';
import type { TaskDeps } from '../defineTask.ts';
import { analytics__rollup } from './analytics__rollup.ts';
import { auth__cleanup } from './auth__cleanup.ts';
import { catalog__refresh_view_count } from './catalog__refresh_view_count.ts';
import { chat__email_unread } from './chat__email_unread.ts';
import { checkout__purge_keys } from './checkout__purge_keys.ts';
import { email__account_exists } from './email__account_exists.ts';
import { email__order_status } from './email__order_status.ts';
import { email__password_reset } from './email__password_reset.ts';
import { email__verify_address } from './email__verify_address.ts';
import { events__prune } from './events__prune.ts';
import { payment__capture } from './payment__capture.ts';
import { payment__expire_pending } from './payment__expire_pending.ts';
import { payment__refund } from './payment__refund.ts';
import { report__daily_sales } from './report__daily_sales.ts';
import { report__generate_sales } from './report__generate_sales.ts';

/** Every task the worker runs; the type makes a contract without a handler a compile error. */
export const taskFactories: { [N in TaskName]: (deps: TaskDeps) => Task<N> } = {
  catalog__refresh_view_count,
  auth__cleanup,
  email__verify_address,
  email__password_reset,
  email__account_exists,
  email__order_status,
  payment__capture,
  payment__refund,
  payment__expire_pending,
  checkout__purge_keys,
  report__generate_sales,
  report__daily_sales,
  analytics__rollup,
  events__prune,
  chat__email_unread,
};
