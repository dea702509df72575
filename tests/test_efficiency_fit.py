"""The fit is reproducible and the shipped factors are the fit's output."""

from planner.calibration_fit import fit_efficiencies, source_family, usable_rows
from planner.catalog import load_catalog


def test_same_data_gives_the_same_factors():
    catalog = load_catalog()
    rows = usable_rows(catalog)
    first = fit_efficiencies(catalog, rows)
    second = fit_efficiencies(catalog, list(reversed(rows)))
    key = lambda f: (f.factor, f.engine, f.hardware_family)  # noqa: E731
    assert [(key(f), f.value) for f in sorted(first, key=key)] == [(key(f), f.value) for f in sorted(second, key=key)]


def test_shipped_efficiency_file_matches_a_fresh_fit():
    catalog = load_catalog()
    fresh = {(f.factor, f.engine, f.hardware_family): f.value for f in fit_efficiencies(catalog)}
    shipped = {(f.factor, f.engine, f.hardware_family): f.value for f in catalog.efficiency}
    assert fresh == shipped, "run bench/calibrate.py after changing data/benchmarks.csv"


def test_efficiencies_stay_under_the_roofline():
    for f in load_catalog().efficiency:
        if f.factor != "effective_tflops":
            assert 0 < f.value <= 1


def test_benchmarks_come_from_at_least_four_independent_sources():
    catalog = load_catalog()
    assert len(catalog.benchmarks) >= 80
    assert len({source_family(r.source) for r in catalog.benchmarks}) >= 4


def test_shipped_accuracy_bands_match_a_fresh_leave_one_source_out_run():
    from planner.calibration_fit import accuracy_bands, leave_one_source_out

    catalog = load_catalog()
    fresh = {b.metric: (b.ratio_p10, b.ratio_p90) for b in accuracy_bands(leave_one_source_out(catalog))}
    shipped = {b.metric: (b.ratio_p10, b.ratio_p90) for b in catalog.accuracy}
    assert fresh == shipped, "run bench/calibrate.py after changing data/benchmarks.csv"
    assert catalog.band("decode_tokens_per_s") is not None


def test_every_speed_figure_in_a_plan_carries_a_band():
    from planner.constraints import Constraints
    from planner.recommend import recommend

    plan = recommend(Constraints(), load_catalog())
    for cand in [plan.recommendation, *plan.alternatives]:
        for metric in ("decode_tokens_per_s", "ttft_s", "throughput_tokens_per_s"):
            low, high = cand.speed.ranges[metric]
            assert low <= high and low > 0
        assert cand.speed.ranges["decode_tokens_per_s"][1] <= cand.speed.decode_roofline_tokens_per_s * (1 + 1e-9)
