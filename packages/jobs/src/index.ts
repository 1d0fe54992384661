export {
  crontab,
  type TaskContract,
  type TaskName,
  type TaskPayload,
  type TaskPayloads,
  type Tasks,
  tasks,
} from './contracts.ts';
export { type EnqueuedJob, type EnqueueOptions, EnqueueOutsideTransactionError, enqueue } from './enqueue.ts';
