"""Watch a running deployment against its plan: the engines' own metrics, alerts and a dashboard from the plan.

    metric_names  which metric each engine and GPU exporter publishes for each quantity, with sources
    exposition    parse /metrics text; PromQL's histogram_quantile
    scrape        a window read from the endpoints' /metrics      promql   the same window from Prometheus
    targets       the plan's targets, peak, capacity, ceiling      report   met / at risk / missed, advice
    replan        the plan again with the window's decode speed    alerts   rules + Grafana from the plan
"""

from planner.monitor.alerts import alert_rules, alert_rules_yaml, grafana_dashboard, monitoring_files
from planner.monitor.errors import MonitorError
from planner.monitor.exposition import histogram_quantile, parse_samples
from planner.monitor.metric_names import METRIC_NAMES, MetricName, names_for
from planner.monitor.observation import Observation, Percentiles
from planner.monitor.report import MonitorReport, TargetCheck, judge
from planner.monitor.run import monitor, observe
from planner.monitor.targets import PlanTargets, load_plan, targets_from_plan

__all__ = ["METRIC_NAMES", "MetricName", "MonitorError", "MonitorReport", "Observation", "Percentiles", "PlanTargets",
           "TargetCheck", "alert_rules", "alert_rules_yaml", "grafana_dashboard", "histogram_quantile", "judge",
           "load_plan", "monitor", "monitoring_files", "names_for", "observe", "parse_samples", "targets_from_plan"]
