/**
 * The jobs console: what waits, what runs, what failed and will be retried, and what failed for good,
 * with each job's attempts and last error; retry and cancel. Read again every few seconds.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useSearchParams } from 'react-router';
import { RequireAdmin } from '../session.tsx';
import { type RouterInputs, type RouterOutputs, useTRPC } from '../trpc.ts';
import { dateTime } from '../ui/format.ts';
import { Empty, ErrorNotice, Loading } from '../ui/status.tsx';
import { AdminNav } from './AdminNav.tsx';

type State = RouterInputs['jobs']['list']['state'];
type Job = RouterOutputs['jobs']['list']['items'][number];
const STATES: { state: State; label: string }[] = [
  { state: 'queued', label: 'Queued (and retrying)' },
  { state: 'locked', label: 'Running' },
  { state: 'failed', label: 'Failed for good' },
];
const REFRESH_MS = 3000;

function JobRow({ job }: { job: Job }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const refresh = { onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.jobs.pathKey() }) };
  const retry = useMutation(trpc.jobs.retry.mutationOptions(refresh));
  const cancel = useMutation(trpc.jobs.cancel.mutationOptions(refresh));
  const retrying = job.state === 'queued' && job.attempts > 0;
  return (
    <tr data-job-id={job.id} aria-label={`Job ${job.id}`}>
      <td>
        <code>{job.task}</code>
        <br />
        <span className="muted">#{job.id}</span>
      </td>
      <td>
        {job.state === 'failed'
          ? 'failed for good'
          : job.state === 'locked'
            ? 'running'
            : retrying
              ? 'failed, will retry'
              : 'queued'}
      </td>
      <td className="num">
        {job.attempts} / {job.maxAttempts}
      </td>
      <td>{job.state === 'locked' && job.lockedAt ? `since ${dateTime(job.lockedAt)}` : dateTime(job.runAt)}</td>
      <td className="job-error">{job.lastError ?? '—'}</td>
      <td>
        {job.state === 'locked' ? null : (
          <span className="row">
            <button type="button" onClick={() => retry.mutate({ id: job.id })} disabled={retry.isPending}>
              Retry<span className="sr-only"> job {job.id}</span>
            </button>
            <button
              type="button"
              className="secondary"
              onClick={() => cancel.mutate({ id: job.id })}
              disabled={cancel.isPending}
            >
              Cancel<span className="sr-only"> job {job.id}</span>
            </button>
          </span>
        )}
        <ErrorNotice error={retry.error ?? cancel.error} />
      </td>
    </tr>
  );
}

function JobsConsole() {
  const trpc = useTRPC();
  const [params, setParams] = useSearchParams();
  const state = STATES.find((s) => s.state === params.get('state'))?.state ?? 'failed';
  const counts = useQuery(trpc.jobs.counts.queryOptions(undefined, { refetchInterval: REFRESH_MS }));
  const list = useQuery(trpc.jobs.list.queryOptions({ state, limit: 50 }, { refetchInterval: REFRESH_MS }));
  const total = (s: State) => counts.data?.filter((c) => c.state === s).reduce((n, c) => n + c.count, 0) ?? 0;
  return (
    <>
      <fieldset className="tabs">
        <legend className="sr-only">Job states</legend>
        {STATES.map((s) => (
          <button
            key={s.state}
            type="button"
            className={s.state === state ? '' : 'secondary'}
            aria-pressed={s.state === state}
            onClick={() => setParams({ state: s.state })}
          >
            {s.label} <span className="badge">{total(s.state)}</span>
          </button>
        ))}
      </fieldset>
      <ErrorNotice error={counts.error ?? list.error} />
      {list.isPending ? <Loading what="Loading jobs" /> : null}
      {list.data && list.data.items.length === 0 ? <Empty>No jobs here.</Empty> : null}
      {list.data && list.data.items.length > 0 ? (
        <table>
          <caption className="sr-only">Jobs, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Task</th>
              <th scope="col">State</th>
              <th scope="col" className="num">
                Attempts
              </th>
              <th scope="col">Runs at</th>
              <th scope="col">Last error</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((j) => (
              <JobRow key={j.id} job={j} />
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}

export default function Jobs() {
  return (
    <RequireAdmin>
      {() => (
        <section>
          <h1>Jobs</h1>
          <AdminNav />
          <JobsConsole />
        </section>
      )}
    </RequireAdmin>
  );
}
