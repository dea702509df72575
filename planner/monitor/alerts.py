"""Prometheus alerting rules and a Grafana dashboard from a plan, with the plan's numbers as thresholds.

Rules (one group per plan): TTFT p90 over the target, decode per stream under the target, traffic above
the planned peak and above capacity, the queue growing, KV-cache usage over the plan's ceiling, the
error rate, and a replica down (`up` of the scrape job). Every expression reads the engine's names from
`metric_names.py`; a quantity with an older name too (vLLM's V1 renames) is read as `new or old`, so the
rules work on either side of the rename. `window` and `for_duration` default to 5 minutes; tests pass
seconds. The dashboard has one panel per rule, the threshold drawn as a red line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

from planner.monitor.metric_names import FAILED_REASONS, names_for
from planner.monitor.report import fmt
from planner.monitor.targets import PlanTargets, targets_from_plan

DEFAULT_JOB = "ow-planner"
ALERTS_FILE = "prometheus-alerts.yaml"
DASHBOARD_FILE = "grafana-dashboard.json"


def _any(engine: str, quantity: str, template: str) -> str | None:
    """`template` filled with each of the quantity's names, joined by `or` (current name first); None if unpublished."""
    parts = [template.format(n=row.name) for row in names_for(engine, quantity)]
    return " or ".join(f"({p})" for p in parts) if len(parts) > 1 else (parts[0] if parts else None)


def alert_specs(t: PlanTargets, *, window: str = "5m", for_duration: str = "5m", job: str = DEFAULT_JOB) -> list[dict[str, Any]]:
    """[{alert, expr, threshold, for, severity, title, unit, query}] for the plan's engine; [] for an unmapped one."""
    engine = t.engine or ""
    specs: list[dict[str, Any]] = []

    def add(alert: str, query: str | None, op: str, threshold: float | None, title: str, unit: str,
            severity: str = "page", duration: str = for_duration) -> None:
        if query is None or threshold is None:
            return
        specs.append({"alert": alert, "query": query, "expr": f"({query}) {op} {threshold:g}", "threshold": threshold,
                      "for": duration, "severity": severity, "title": title, "unit": unit})

    ttft = _any(engine, "ttft_s", "sum by (le) (rate({n}_bucket[%s]))" % window)
    add("TTFTAboveTarget", f"histogram_quantile(0.9, {ttft})" if ttft else None, ">", t.max_ttft_s,
        f"TTFT p90 over the plan's {fmt(t.max_ttft_s or 0)} s", "s")
    itl = _any(engine, "itl_s", "sum by (le) (rate({n}_bucket[%s]))" % window)
    add("DecodeBelowTarget", f"1 / histogram_quantile(0.5, {itl})" if itl else None, "<", t.min_tokens_per_s,
        f"Decode per stream under the plan's {fmt(t.min_tokens_per_s or 0)} tokens/s", "tokens/s")
    finished = _any(engine, "requests_finished", "sum(rate({n}[%s]))" % window)
    add("TrafficAbovePeak", finished, ">", t.peak_requests_per_s,
        f"Requests/s above the planned peak of {fmt(t.peak_requests_per_s)}", "req/s", severity="warning")
    add("TrafficAboveCapacity", finished, ">", t.capacity_requests_per_s,
        f"Requests/s above the capacity of {fmt(t.capacity_requests_per_s or 0)}", "req/s")
    waiting = _any(engine, "requests_waiting", "sum({n})")
    growth = _any(engine, "requests_waiting", "sum(deriv({n}[%s]))" % window)
    if waiting and growth:
        specs.append({"alert": "QueueGrowing", "query": waiting, "expr": f"({growth}) > 0 and ({waiting}) > 0",
                      "threshold": 0.0, "for": for_duration, "severity": "page", "title": "Requests waiting (queue growing)",
                      "unit": "requests"})
    kv = _any(engine, "kv_cache_usage", "max({n})")
    add("KVCacheAboveHeadroom", kv, ">", t.kv_cache_ceiling, f"KV cache usage over the plan's {t.kv_cache_ceiling:.0%}",
        "percentunit")
    failed = None
    if reasons := FAILED_REASONS.get(engine):
        failed = _any(engine, "requests_finished", 'sum(rate({n}{{finished_reason=~"%s"}}[%s]))' % ("|".join(reasons), window))
    failed = failed or _any(engine, "requests_failed", "sum(rate({n}[%s]))" % window)
    if failed and finished:
        add("ErrorRateHigh", f"({failed}) / ({finished})", ">", t.max_error_rate,
            f"Error rate over {t.max_error_rate:.1%}", "percentunit")
    add("ReplicaDown", f'count(up{{job="{job}"}} == 1) or vector(0)', "<", float(t.replicas),
        f"Replicas up under the planned {t.replicas}", "replicas", duration="1m" if for_duration == "5m" else for_duration)
    return specs


def alert_rules(plan: Mapping[str, Any] | PlanTargets, **options: Any) -> dict[str, Any]:
    """The rule file as a dict (Prometheus's rule-file format)."""
    t = plan if isinstance(plan, PlanTargets) else targets_from_plan(plan)
    rules = [{"alert": s["alert"], "expr": s["expr"], "for": s["for"], "labels": {"severity": s["severity"]},
              "annotations": {"summary": f"{s['title']} ({t.label})",
                              "description": f"{s['alert']}: {{{{ $value }}}} against the plan's threshold of {s['threshold']:g}."}}
             for s in alert_specs(t, **options)]
    return {"groups": [{"name": f"ow-planner-{t.engine or 'service'}", "rules": rules}]}


def alert_rules_yaml(plan: Mapping[str, Any] | PlanTargets, **options: Any) -> str:
    header = ("# Prometheus alerting rules from the plan (planner.monitor.alerts); thresholds are the plan's numbers.\n"
              f"# The ReplicaDown rule reads the scrape job '{options.get('job', DEFAULT_JOB)}': name the engine's job so.\n")
    return header + yaml.safe_dump(alert_rules(plan, **options), sort_keys=False, width=1000)


def grafana_dashboard(plan: Mapping[str, Any] | PlanTargets, **options: Any) -> dict[str, Any]:
    """A Grafana dashboard (schema 39) with one time-series panel per rule, the plan's threshold as a red step."""
    t = plan if isinstance(plan, PlanTargets) else targets_from_plan(plan)
    panels = []
    for i, s in enumerate(alert_specs(t, **options)):
        panels.append({
            "id": i + 1, "type": "timeseries", "title": s["title"],
            "gridPos": {"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i // 2)},
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "targets": [{"refId": "A", "expr": s["query"], "legendFormat": s["alert"]}],
            "fieldConfig": {"defaults": {"unit": s["unit"], "custom": {"thresholdsStyle": {"mode": "line"}},
                                         "thresholds": {"mode": "absolute", "steps": [
                                             {"color": "green", "value": None}, {"color": "red", "value": s["threshold"]}]}},
                            "overrides": []},
        })
    return {"title": f"ow-planner: {t.label}", "uid": None, "schemaVersion": 39, "editable": True, "time": {"from": "now-6h", "to": "now"},
            "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus"}]},
            "panels": panels, "tags": ["ow-planner", t.engine or "service"]}


def grafana_dashboard_json(plan: Mapping[str, Any] | PlanTargets, **options: Any) -> str:
    return json.dumps(grafana_dashboard(plan, **options), indent=2) + "\n"


def monitoring_files(plan: Mapping[str, Any]) -> dict[str, str]:
    """{file name: text} of the alert rules and the dashboard; {} when the plan's engine publishes no metrics."""
    t = targets_from_plan(plan)
    if not alert_specs(t) or not names_for(t.engine or "", "requests_running"):
        return {}
    return {ALERTS_FILE: alert_rules_yaml(t), DASHBOARD_FILE: grafana_dashboard_json(t)}
