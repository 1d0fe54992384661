import { defineEntity, p } from '@mikro-orm/core';

/**
 * One row per graphile-worker pool id (the `locked_by` of the jobs it runs), upserted by its worker
 * process every WORKER_HEARTBEAT_INTERVAL_MS. graphile-worker only frees a dead worker's jobs after
 * four hours; a row whose `beat_at` is older than WORKER_DEAD_AFTER_MS tells every other process that
 * the owner is gone and its jobs may run again now. Times are the database's (`now()`), so clocks of
 * different hosts never disagree.
 */
export const WorkerHeartbeatSchema = defineEntity({
  name: 'WorkerHeartbeat',
  tableName: 'worker_heartbeat',
  properties: {
    workerId: p.string().length(64).primary(),
    hostname: p.string().length(255),
    pid: p.integer(),
    startedAt: p.datetime(),
    beatAt: p.datetime().index(),
  },
});

export class WorkerHeartbeat extends WorkerHeartbeatSchema.class {}
WorkerHeartbeatSchema.setClass(WorkerHeartbeat);
