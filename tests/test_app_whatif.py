"""planner/whatif.py: volumes, constraint changes, and where the recommended pick changes."""

import pytest

from planner.errors import ConstraintError
from planner.plan import whatif
from planner.plan.constraints import Constraints
from planner.plan.recommend import recommend


def test_volume_round_trips_through_requests_a_day():
    c = Constraints()
    volume = whatif.tokens_per_month_for(c)
    assert whatif.requests_per_day_for(c, volume) == pytest.approx(c.requests_per_day)
    changed = whatif.with_changes(c, tokens_per_month=1e9, utilisation=0.5)
    assert whatif.tokens_per_month_for(changed) == pytest.approx(1e9)
    assert changed.utilisation == 0.5


def test_with_changes_validates():
    with pytest.raises(ConstraintError) as err:
        whatif.with_changes(Constraints(), utilisation=2.0)
    assert err.value.field == "utilisation"


def test_volume_options_are_log_spaced_from_hobby_to_a_trillion():
    options = whatif.VOLUME_OPTIONS_TOKENS_PER_MONTH
    assert options[0] == 1e5 and options[-1] == 1e12
    assert list(options) == sorted(options)
    assert 8 <= len(whatif.SWEEP_VOLUMES_TOKENS_PER_MONTH) <= 12
    assert whatif.nearest_option(7.9e8) == 1e9


def test_pick_changes_are_reported_between_samples():
    c = Constraints()
    samples = whatif.sweep(c, recommend, volumes=(1e6, 1e12))
    changes = whatif.pick_changes(samples)
    keys = [whatif.pick_key(p) for _, p in samples]
    assert (len(changes) == 1) == (keys[0] != keys[1])
    if changes:
        assert 1e6 < changes[0]["tokens_per_month"] < 1e12
        assert changes[0]["label"].startswith("→")
    assert len(whatif.plan_points(samples)) == 2
    assert [row["tokens_per_month"] for row in whatif.sweep_table(samples)] == [1e6, 1e12]


def test_no_change_reported_for_identical_picks():
    plan = recommend(Constraints())
    assert whatif.pick_changes([(1e6, plan), (1e7, plan)]) == []


def test_a_pick_change_never_reads_as_the_same_pick():
    from planner.plan import whatif
    from planner.plan.constraints import Constraints
    from planner.plan.recommend import recommend

    samples = whatif.sweep(Constraints(), recommend)
    for change in whatif.pick_changes(samples):
        before, after = change["text"].split(" changes from ")[1].split(" to ")
        assert before != after.rstrip(".")
