"""Quality on sample outputs: send prompts with checks, report the pass rate (Wilson interval), compare endpoints.

    samples  the JSONL sample file and its checks     checks  does a reply pass
    stats    Wilson interval, McNemar's exact test   run     send, time, report, compare
"""

from planner.quality.errors import QualityError, SampleFileError
from planner.quality.run import QualityComparison, QualityReport, compare, format_report, run_quality
from planner.quality.samples import Sample, load_samples, parse_samples
from planner.quality.stats import mcnemar_exact_p, wilson_interval

__all__ = ["QualityComparison", "QualityError", "QualityReport", "Sample", "SampleFileError", "compare",
           "format_report", "load_samples", "mcnemar_exact_p", "parse_samples", "run_quality", "wilson_interval"]
