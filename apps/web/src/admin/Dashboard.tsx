/**
 * The live dashboard (`dashboard.live`: a snapshot at once, then one per tick) drawn as charts, and the
 * analytics summary of a chosen range, from the hourly roll-ups.
 */
import { useQuery } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { useLive } from '../live.ts';
import { RequireAdmin } from '../session.tsx';
import { type RouterOutputs, useTRPC } from '../trpc.ts';
import { fieldIssues } from '../ui/form.tsx';
import { money } from '../ui/format.ts';
import { Empty, ErrorNotice, LiveIndicator, Loading } from '../ui/status.tsx';
import { AdminNav } from './AdminNav.tsx';
import { BarChart, Sparkline } from './charts.tsx';

type Snapshot = RouterOutputs['dashboard']['live'] extends AsyncIterable<infer S> ? S : never;
const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
/** Snapshots kept for the trend lines: an hour at the default 5-second tick. */
const KEEP = 720;

function Live() {
  const trpc = useTRPC();
  const [history, setHistory] = useState<Snapshot[]>([]);
  const live = useLive(
    trpc.dashboard.live.subscriptionOptions(undefined, {
      onData: (s) => setHistory((h) => [...h.slice(-(KEEP - 1)), s]),
    }),
  );
  const now = history.at(-1);
  // The store's one currency, as every cart carries it (the snapshot has amounts only).
  const currency = useQuery(trpc.cart.get.queryOptions()).data?.currency ?? 'USD';
  return (
    <section aria-labelledby="live-h">
      <h2 id="live-h" className="row">
        Now <LiveIndicator state={live.status} />
      </h2>
      <ErrorNotice error={live.error} />
      {!now ? (
        <Loading what="Waiting for the first figures" />
      ) : (
        <>
          <dl className="figures" data-testid="live-figures">
            <div>
              <dt>Orders in the last minute</dt>
              <dd data-testid="orders-last-minute">{now.ordersLastMinute}</dd>
            </div>
            <div>
              <dt>Revenue today</dt>
              <dd data-testid="revenue-today">{money(now.revenueTodayCents, currency)}</dd>
            </div>
            <div>
              <dt>Active carts</dt>
              <dd>{now.activeCarts}</dd>
            </div>
            <div>
              <dt>Jobs waiting / running</dt>
              <dd>
                {now.jobsReady} / {now.jobsLocked}
              </dd>
            </div>
          </dl>
          <div className="charts">
            <figure>
              <BarChart
                values={now.ordersPerMinute}
                title={`Orders per minute over the last ${now.ordersPerMinute.length} minutes`}
              />
              <figcaption className="muted">
                Orders per minute, last {now.ordersPerMinute.length} min: {sum(now.ordersPerMinute)} in all, at most{' '}
                {Math.max(0, ...now.ordersPerMinute)} a minute
              </figcaption>
            </figure>
            <figure>
              <Sparkline
                values={history.map((s) => s.revenueTodayCents / 100)}
                title="Revenue today, since this page opened"
              />
              <figcaption className="muted">Revenue today, since this page opened</figcaption>
            </figure>
            <figure>
              <Sparkline values={history.map((s) => s.jobsReady + s.jobsLocked)} title="Jobs waiting and running" />
              <figcaption className="muted">Jobs waiting and running since this page opened</figcaption>
            </figure>
          </div>
        </>
      )}
    </section>
  );
}

const DAY = 24 * 60 * 60 * 1000;
const isoDay = (d: Date) => d.toISOString().slice(0, 10);

function Summary() {
  const trpc = useTRPC();
  const [range, setRange] = useState(() => ({ from: new Date(Date.now() - 7 * DAY), to: new Date(Date.now() + DAY) }));
  const summary = useQuery(trpc.analytics.summary.queryOptions({ from: range.from, to: range.to, topProducts: 5 }));
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    setRange({ from: new Date(String(form.get('from'))), to: new Date(String(form.get('to'))) });
  };
  const issues = fieldIssues(summary.error);
  return (
    <section aria-labelledby="analytics-h">
      <h2 id="analytics-h">Analytics</h2>
      <form className="inline" onSubmit={submit}>
        <div className="field">
          <label htmlFor="a-from">From</label>
          <input id="a-from" name="from" type="date" defaultValue={isoDay(range.from)} required />
        </div>
        <div className="field">
          <label htmlFor="a-to">To</label>
          <input id="a-to" name="to" type="date" defaultValue={isoDay(range.to)} required />
          {issues.to ? <small className="issue">{issues.to}</small> : null}
        </div>
        <button type="submit">Show</button>
      </form>
      {summary.isPending ? <Loading /> : null}
      {Object.keys(issues).length === 0 ? <ErrorNotice error={summary.error} /> : null}
      {summary.data ? (
        <div className="grid">
          <table>
            <caption>Events</caption>
            <tbody>
              {summary.data.totals.map((t) => (
                <tr key={t.name}>
                  <th scope="row">{t.name}</th>
                  <td className="num">{t.count}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <table className="funnel">
            <caption>
              Funnel (overall{' '}
              {summary.data.funnel.overallConversion === null
                ? '—'
                : `${(summary.data.funnel.overallConversion * 100).toFixed(1)} %`}
              )
            </caption>
            <tbody>
              {summary.data.funnel.steps.map((s) => (
                <tr key={s.name}>
                  <th scope="row">{s.name}</th>
                  <td className="num">{s.count}</td>
                  <td className="num">{s.conversion === null ? '—' : `${(s.conversion * 100).toFixed(1)} %`}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <table>
            <caption>Most viewed</caption>
            <tbody>
              {summary.data.topProducts.length === 0 ? (
                <tr>
                  <td>
                    <Empty>No views in this range.</Empty>
                  </td>
                </tr>
              ) : (
                summary.data.topProducts.map((p) => (
                  <tr key={p.productId}>
                    <th scope="row">{p.name}</th>
                    <td className="num">{p.views}</td>
                  </tr>
                ))
              )}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

export default function Dashboard() {
  return (
    <RequireAdmin>
      {() => (
        <section>
          <h1>Admin dashboard</h1>
          <AdminNav />
          <Live />
          <Summary />
        </section>
      )}
    </RequireAdmin>
  );
}
