"""data/machines.csv and planner.catalog.machines: hardware as it is sold and run."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

import pytest

from planner.catalog.loading import DATA_DIR
from planner.catalog.machines import (
    MACHINES_FILE,
    host_ram_gib,
    load_machines,
    machine,
    machines_for,
    purchase_unit,
    wall_power_w,
)
from planner.errors import CatalogError, LookupFailed


def _gpus() -> dict[str, dict[str, str]]:
    with open(DATA_DIR / "gpus.csv", newline="", encoding="utf-8") as handle:
        return {row["id"]: row for row in csv.DictReader(handle)}


def _is_sxm_or_oam(row: dict[str, str]) -> bool:
    """Datacenter parts that are sold on multi-GPU baseboards, not as PCIe cards: SXM/OAM/HGX modules and
    NVL72 racks, told apart from PCIe cards by their names and interconnects in gpus.csv."""
    if row["kind"] != "datacenter":
        return False
    text = f"{row['name']} {row['interconnect']}"
    if "PCIe" in row["interconnect"].split("(")[0] or "PCIe" in row["name"]:
        return False
    return any(word in text for word in ("SXM", "OAM", "HGX", "NVL72", "NVLink", "Infinity Fabric"))


def test_the_shipped_file_loads_and_every_gpu_exists_in_gpus_csv():
    units = load_machines()
    gpus = _gpus()
    assert len(units) >= 40
    assert {u.gpu for u in units} <= set(gpus)
    assert len({u.id for u in units}) == len(units)


def test_every_datacenter_sxm_or_oam_gpu_is_bought_as_a_multi_gpu_unit():
    gpus = _gpus()
    baseboard_parts = sorted(g for g, row in gpus.items() if _is_sxm_or_oam(row) and g != "gh200")
    # The parts the issue names must be among them, so the filter above cannot silently shrink.
    assert {"h100-sxm", "h200", "b200", "b300", "gb200-nvl72", "mi300x", "mi325x", "mi355x", "a100-80gb"} <= set(baseboard_parts)
    for gpu_id in baseboard_parts:
        unit = purchase_unit(gpu_id)
        assert unit is not None, f"{gpu_id} has no purchasable unit in {MACHINES_FILE}"
        assert unit.gpus_per_unit >= 8, f"{gpu_id} is bought {unit.gpus_per_unit} at a time in {unit.id}"
        assert unit.sold_as in ("server", "rack")
    assert purchase_unit("gb200-nvl72").gpus_per_unit == 72


def test_every_apple_device_is_the_mac_it_ships_in_with_its_unified_memory():
    gpus = _gpus()
    apple = [g for g, row in gpus.items() if row["kind"] == "apple"]
    assert len(apple) >= 8
    for gpu_id in apple:
        unit = purchase_unit(gpu_id)
        assert unit is not None, f"{gpu_id} has no Mac"
        assert unit.sold_as in ("mac", "laptop")
        assert unit.host_ram_basis == "unified"
        assert unit.host_ram_gib == float(gpus[gpu_id]["memory_gib"])
    # Apple's own measured maximum at the wall, not the GPU's (blank) power_w.
    assert wall_power_w("apple-m2-ultra-192gb") == 295
    assert machine("mac-studio-2023-m2-ultra-192gb").wall_power_basis == "measured_max"


def test_sources_are_urls_dates_parse_and_numbers_are_positive():
    today = dt.date.today()
    for unit in load_machines():
        for url in (unit.source, unit.price_source):
            if url is not None:
                assert url.startswith(("https://", "http://")) and " " not in url, unit.id
        assert dt.date(2020, 1, 1) <= unit.as_of <= today, unit.id
        for value in (unit.host_ram_gib, unit.wall_power_w, unit.price_usd, unit.usd_per_hour):
            assert value is None or value > 0, unit.id
        assert unit.gpus_per_unit >= 1
        if unit.price_usd is not None:
            assert unit.price_basis and unit.price_source, unit.id
        if unit.sold_as == "rented_instance":
            assert unit.provider, unit.id


def test_host_memory_bounds_cpu_offload_on_a_desktop():
    # The bug this file fixes: 405B at ~4.8 bits/weight (~227 GiB of weights) "fit" one RTX 4090 by putting ~210 GiB
    # in system RAM. The desktop row says how much system RAM there is, so the plan can refuse.
    weights_gib = 405e9 * 4.8 / 8 / 2**30
    vram_gib = float(_gpus()["rtx-4090"]["memory_gib"])
    assert host_ram_gib("rtx-4090") == 64
    assert machine("desktop-rtx-4090").host_ram_basis == "assumption"
    assert weights_gib > vram_gib + host_ram_gib("rtx-4090")


def test_lookups_order_and_fallbacks():
    units = machines_for("h100-sxm")
    assert units[0].id == "dgx-h100"
    assert [u.purchasable for u in units] == sorted((u.purchasable for u in units), reverse=True)
    assert {"aws-p5.48xlarge", "gcp-a3-highgpu-8g", "azure-nd96isr-h100-v5"} <= {u.id for u in units}
    p5 = machine("aws-p5.48xlarge")
    assert (p5.gpus_per_unit, p5.host_ram_gib, p5.provider) == (8, 2048, "AWS")
    assert p5.host_ram_per_gpu_gib == 256
    # A PCIe card only rented here: no purchase unit, but its rented shape still gives host memory.
    assert purchase_unit("t4") is None and host_ram_gib("t4") == 16
    assert machines_for("no-such-gpu") == [] and host_ram_gib("no-such-gpu") is None and wall_power_w("no-such-gpu") is None
    with pytest.raises(LookupFailed, match="no-such-unit"):
        machine("no-such-unit")


# --- a bad row names the file, the row and the field -----------------------------------------------------------

_HEADER = ("id,name,gpu,gpus_per_unit,sold_as,host_ram_gib,host_ram_basis,wall_power_w,wall_power_basis,price_usd,"
           "price_basis,price_source,provider,usd_per_hour,source,as_of,notes")
_GOOD = "box-a,Box A,h100-sxm,8,server,2048,configured,10200,vendor_max,,,,,,https://example.com/a,2026-12-01,"


def _data_dir(tmp_path: Path, *rows: str) -> Path:
    shutil.copy(DATA_DIR / "gpus.csv", tmp_path / "gpus.csv")
    (tmp_path / MACHINES_FILE).write_text("\n".join((_HEADER, _GOOD, *rows)) + "\n", encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("bad_row", "field", "words"),
    [
        ("box-b,Box B,h100-sxm,8,server,-5,configured,,,,,,,,https://example.com/b,2026-12-01,", "host_ram_gib", "greater than 0"),
        ("box-b,Box B,h100-sxm,eight,server,,,,,,,,,,https://example.com/b,2026-12-01,", "gpus_per_unit", "integer"),
        ("box-b,Box B,h100-sxm,8,spaceship,,,,,,,,,,https://example.com/b,2026-12-01,", "sold_as", "server"),
        ("box-b,Box B,h100-sxm,8,server,,,,,,,,,,see the datasheet,2026-12-01,", "source", "URL"),
        ("box-b,Box B,h100-sxm,8,server,,,,,,,,,,https://example.com/b,2026-13-45,", "as_of", "date"),
        ("box-b,Box B,no-such-gpu,8,server,,,,,,,,,,https://example.com/b,2026-12-01,", "gpu", "unknown gpu id"),
        ("box-a,Box A again,h100-sxm,8,server,,,,,,,,,,https://example.com/b,2026-12-01,", "id", "duplicate"),
    ],
)
def test_a_bad_row_names_file_row_and_field(tmp_path, bad_row, field, words):
    with pytest.raises(CatalogError) as caught:
        load_machines(_data_dir(tmp_path, bad_row))
    message = str(caught.value)
    assert message.startswith(f"{MACHINES_FILE}, row 3, field '{field}'"), message
    assert words in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("bad_row", "words"),
    [
        ("box-b,Box B,h100-sxm,8,server,2048,,,,,,,,,https://example.com/b,2026-12-01,", "host_ram_basis"),
        ("box-b,Box B,h100-sxm,8,server,,,,,99000,list,,,,https://example.com/b,2026-12-01,", "price_source"),
        ("box-b,Box B,h100-sxm,8,rented_instance,,,,,,,,,55.04,https://example.com/b,2026-12-01,", "provider"),
        ("box-b,Box B,h100-sxm,8,server,,,,,,,,AWS,,https://example.com/b,2026-12-01,", "rented_instance"),
    ],
)
def test_inconsistent_rows_are_refused_with_the_row(tmp_path, bad_row, words):
    with pytest.raises(CatalogError) as caught:
        load_machines(_data_dir(tmp_path, bad_row))
    assert str(caught.value).startswith(f"{MACHINES_FILE}, row 3"), str(caught.value)
    assert words in str(caught.value)


def test_an_unknown_column_and_a_missing_file_are_named(tmp_path):
    shutil.copy(DATA_DIR / "gpus.csv", tmp_path / "gpus.csv")
    (tmp_path / MACHINES_FILE).write_text(f"{_HEADER},colour\n{_GOOD},red\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"machines\.csv, row 2, field 'colour'"):
        load_machines(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CatalogError, match="machines.csv: the data file is missing"):
        load_machines(empty)
