/**
 * observability/prometheus: promtool accepts the config and the alert rules, the rule unit tests pass,
 * and every alert carries what an on-call engineer needs (severity, summary, description, a runbook
 * that exists in docs/observability.md).
 */
import { needsTool } from '@keelson/testing/tools';
import { describe, expect, it } from 'vitest';
import { amtool, headingAnchors, promtool, readAlertRules, readYaml } from './files.ts';

/** Where the alerts' runbooks are: each `runbook` annotation is `docs/observability.md#<heading>`. */
const RUNBOOKS = 'docs/observability.md';

interface RuleTest {
  alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[];
}

describe('prometheus config and alerts', () => {
  it('amtool check-config accepts alertmanager.yml', needsTool('amtool'), async () => {
    const { code, output } = await amtool(['check-config', 'observability/alertmanager/alertmanager.yml']);
    expect(output).toContain('SUCCESS');
    expect(code, output).toBe(0);
  });

  it('Alertmanager inhibits only alerts that exist, and routes every severity the rules use', () => {
    const am = readYaml<{
      route: { receiver: string; routes?: { matchers: string[] }[] };
      inhibit_rules: { source_matchers: string[]; target_matchers: string[] }[];
    }>('observability/alertmanager/alertmanager.yml');
    const alerts = new Set(readAlertRules().map((r) => r.alert));
    for (const rule of am.inhibit_rules) {
      for (const matcher of [...rule.source_matchers, ...rule.target_matchers]) {
        const names = matcher.match(/^alertname=~?"(.+)"$/)?.[1]?.split('|') ?? [];
        expect(names.length, matcher).toBeGreaterThan(0);
        for (const name of names) expect(alerts, `${matcher} names ${name}`).toContain(name);
      }
    }
    expect(am.route.receiver).toBe('operators');
  });

  it('promtool check config accepts prometheus.yml (and the alerts.yml it loads)', needsTool('promtool'), async () => {
    const { code, output } = await promtool(['check', 'config', 'observability/prometheus/prometheus.yml']);
    expect(output).toContain('SUCCESS');
    expect(code, output).toBe(0);
  });

  it(
    'promtool test rules: every alert fires on its unhealthy series and not on the healthy one',
    needsTool('promtool'),
    async () => {
      const { code, output } = await promtool(['test', 'rules', 'observability/prometheus/alerts.test.yml']);
      expect(code, output).toBe(0);
      expect(output).toContain('SUCCESS');
    },
  );

  it('the rule tests cover every alert both ways', () => {
    const tests = readYaml<{ tests: RuleTest[] }>('observability/prometheus/alerts.test.yml').tests;
    const cases = tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const { alert } of readAlertRules()) {
      const own = cases.filter((c) => c.alertname === alert);
      expect(
        own.some((c) => c.exp_alerts.length > 0),
        `${alert} has no test where it fires`,
      ).toBe(true);
      expect(
        own.some((c) => c.exp_alerts.length === 0),
        `${alert} has no test where it stays silent`,
      ).toBe(true);
    }
  });

  it('every alert waits (`for`), has a severity, a summary, a description and a runbook in the docs', () => {
    const anchors = headingAnchors(RUNBOOKS);
    const rules = readAlertRules();
    expect(rules.length).toBeGreaterThanOrEqual(6);
    for (const rule of rules) {
      expect(rule.for, rule.alert).toMatch(/^\d+[smh]$/);
      expect(['critical', 'warning'], rule.alert).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      expect(rule.annotations?.description, rule.alert).toBeTruthy();
      const runbook = rule.annotations?.runbook ?? '';
      expect(runbook, rule.alert).toMatch(/^docs\/observability\.md#[\w-]+$/);
      expect(anchors.has(runbook.split('#')[1] ?? ''), `${rule.alert}: no heading in ${RUNBOOKS} for ${runbook}`).toBe(
        true,
      );
    }
  });

  it('the alerts watch what the issue asks for', () => {
    const exprs = readAlertRules().map((r) => r.expr);
    const watched = (pattern: RegExp) => exprs.some((e) => pattern.test(e));
    expect(watched(/keelson_trpc_procedure_duration_seconds_count\{code=~"INTERNAL_SERVER_ERROR/)).toBe(true);
    expect(watched(/histogram_quantile\(0\.95, .*keelson_trpc_procedure_duration_seconds_bucket/)).toBe(true);
    expect(watched(/keelson_job_duration_seconds_count\{outcome="failure"\}/)).toBe(true);
    expect(watched(/keelson_jobs_oldest_queued_age_seconds/)).toBe(true);
    expect(watched(/^up\{.*\} == 0$/)).toBe(true);
    expect(watched(/keelson_db_pool_connections\{state="waiting"\}/)).toBe(true);
    expect(watched(/keelson_trpc_procedure_duration_seconds_count\{code="INTERNAL_SERVER_ERROR"\}/)).toBe(true);
    expect(watched(/keelson_db_reachable/)).toBe(true);
    expect(watched(/^absent\(up\{job="keelson-worker"\}/)).toBe(true);
    expect(watched(/^absent\(up\{job="keelson-api"\}/)).toBe(true);
  });
});
