export {
  crontab,
  JOB_META_KEY,
  type JobMeta,
  jobMetaSchema,
  readJobMeta,
  type TaskContract,
  type TaskName,
  type TaskPayload,
  type TaskPayloads,
  type Tasks,
  tasks,
  traceparentSchema,
} from './contracts.ts';
export { type EnqueuedJob, type EnqueueOptions, EnqueueOutsideTransactionError, enqueue } from './enqueue.ts';
