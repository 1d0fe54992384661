export {
  cancelJob,
  countJobs,
  type JobCount,
  type JobDto,
  type JobPage,
  type JobState,
  jobCount,
  jobDto,
  jobIdInput,
  jobPage,
  jobStates,
  type ListJobsInput,
  listJobs,
  listJobsInput,
  retryJob,
} from './admin.ts';
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
  withoutMeta,
} from './contracts.ts';
export { type EnqueuedJob, type EnqueueOptions, EnqueueOutsideTransactionError, enqueue } from './enqueue.ts';
export { readQueueStats, type TaskQueueStats, taskNames } from './queueStats.ts';
