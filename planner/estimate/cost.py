"""Cost: paid APIs per token against self-hosting per GPU-hour (rented) or capital (owned).

A self-hosted deployment pays for its GPUs whether busy or idle; an API pays per token. The
break-even volume is where the two cross.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from pydantic import BaseModel, ConfigDict

from planner.catalog.loading import Catalog
from planner.catalog.records import ApiPrice, Gpu, GpuPrice
from planner.units import HOURS_PER_MONTH, MILLION


class HostingCost(BaseModel):
    """Monthly cost of a self-hosted deployment, with its parts."""

    model_config = ConfigDict(frozen=True)

    mode: str  # "rent" or "own"
    usd_per_month: float
    gpu_count: int
    usd_per_gpu_hour: float
    price_source: str
    # the catalogue price row the cost was made from (None for the user's own price or no published price)
    price_kind: str | None = None
    price_provider: str | None = None
    price_as_of: dt.date | None = None
    usd_per_month_high: float | None = None  # at the top of the price row's range, where the source gives one
    capital_usd_per_month: float = 0.0
    power_usd_per_month: float = 0.0
    operations_usd_per_month: float = 0.0
    usd_per_mtok: float | None = None
    capital_sunk: bool = False  # GPUs already owned: usd_per_month is the running cost; capital is shown apart
    power_counted: bool = True  # False: owned GPUs without a published power figure, so no power or space is counted


class CostAssumptions(BaseModel):
    """The knobs of the cost model, resolved from the constraints or the catalogue's defaults."""

    model_config = ConfigDict(frozen=True)

    utilisation: float
    amortisation_months: float
    power_usd_per_kwh: float
    pue: float
    gpu_power_draw_fraction: float
    colocation_usd_per_kw_month: float
    gpu_usd_per_hour: float | None = None
    gpu_price_for: str | None = None

    def user_rate_for(self, gpu_id: str) -> float | None:
        """The user's price per GPU-hour for this device, if they gave one."""
        if self.gpu_usd_per_hour is None or self.gpu_price_for not in (None, gpu_id):
            return None
        return self.gpu_usd_per_hour


def api_cost_usd_per_month(api: ApiPrice, input_tokens_per_month, output_tokens_per_month):
    """What a month of traffic costs on a paid API."""
    return (
        np.asarray(input_tokens_per_month) / MILLION * api.usd_per_mtok_input
        + np.asarray(output_tokens_per_month) / MILLION * api.usd_per_mtok_output
    )


def blended_usd_per_mtok(api: ApiPrice, input_tokens: float, output_tokens: float) -> float:
    """An API's price per million tokens at this request's input/output mix."""
    total = input_tokens + output_tokens
    return (api.usd_per_mtok_input * input_tokens + api.usd_per_mtok_output * output_tokens) / total


def rented_cost(catalog: Catalog, gpu: Gpu, gpu_count: int, a: CostAssumptions) -> HostingCost | None:
    """GPU-hours for the month at the cheapest listed rental price (or the user's price); None when
    nobody lists the device for rent."""
    rate, row = a.user_rate_for(gpu.id), None
    if rate is not None:
        source = "your price per GPU-hour"
    else:
        prices = catalog.rent_prices(gpu.id)
        if not prices:
            return None
        row = prices[0]
        rate = row.usd
        source = f"{row.provider} at ${rate:.2f}/GPU-hour ({row.as_of.isoformat()})"
    monthly = rate * gpu_count * HOURS_PER_MONTH * a.utilisation
    high = row.usd_high * gpu_count * HOURS_PER_MONTH * a.utilisation if row is not None and row.usd_high else None
    return HostingCost(mode="rent", usd_per_month=monthly, gpu_count=gpu_count, usd_per_gpu_hour=rate, price_source=source,
                       usd_per_month_high=high, **_price_row(row))


def _price_row(row: GpuPrice | None) -> dict:
    return {"price_kind": row.price_kind, "price_provider": row.provider, "price_as_of": row.as_of} if row else {}


def owned_cost(catalog: Catalog, gpu: Gpu, gpu_count: int, a: CostAssumptions, sunk: bool = False, desk: bool = False) -> HostingCost:
    """Purchase amortised over the period, plus power (x PUE) and colocation by the kW. A device
    with no published price costs its power and colocation only.

    `sunk`: GPUs already owned: the purchase is sunk, so the monthly cost is what running them costs (power,
    space); the amortised purchase is still reported apart (`capital_usd_per_month`, `capital_sunk`).
    `desk`: an office or edge box: its own power at the wall, no datacenter PUE and no colocation rent."""
    purchase = catalog.purchase_price(gpu.id)
    capital = purchase.usd * gpu_count / a.amortisation_months if purchase else 0.0
    rated_kw = (gpu.power_w or _wall_power_w(gpu.id) or 0) / 1000 * gpu_count
    power, operations = running_usd_per_month(rated_kw, a, desk)
    total = power + operations + (0.0 if sunk else capital)
    where = "office/edge power, no colocation" if desk else "power and colocation"
    if sunk:
        source = (f"GPUs you own: {where} only; their purchase (${purchase.usd * gpu_count:,.0f} at {purchase.provider}'s "
                  f"{purchase.as_of.isoformat()} listing) is sunk" if purchase else f"GPUs you own: {where} only")
    else:
        source = (f"purchase ${purchase.usd:,.0f} ({purchase.provider}, {purchase.as_of.isoformat()}) over {a.amortisation_months:g} months"
                  if purchase else f"no published purchase price: {where} only")
    return HostingCost(
        mode="own",
        usd_per_month=total,
        gpu_count=gpu_count,
        usd_per_gpu_hour=total / gpu_count / HOURS_PER_MONTH,
        price_source=source,
        **_price_row(purchase),
        capital_usd_per_month=capital,
        power_usd_per_month=power,
        operations_usd_per_month=operations,
        capital_sunk=sunk,
        power_counted=rated_kw > 0,
    )


def running_usd_per_month(rated_kw: float, a: CostAssumptions, desk: bool = False) -> tuple[float, float]:
    """(power, space) a month for GPUs of `rated_kw`: their draw at the assumed share x PUE x the hours used x the power
    price, and colocation by the kW (rack space, cooling and network); an office or edge box pays its own power at the
    wall and no colocation."""
    power = rated_kw * a.gpu_power_draw_fraction * (1.0 if desk else a.pue) * HOURS_PER_MONTH * a.utilisation * a.power_usd_per_kwh
    return power, 0.0 if desk else a.colocation_usd_per_kw_month * rated_kw


def _wall_power_w(gpu_id: str) -> float | None:
    """A device with no power figure of its own (a Mac's GPU) draws its machine's power at the wall (data/machines.csv)."""
    from planner.catalog.machines import wall_power_w  # reads machines.csv only when a device lacks a figure

    try:
        return wall_power_w(gpu_id)
    except Exception:  # noqa: BLE001 - a missing or bad machines file leaves the old behaviour: no figure
        return None


def break_even_tokens_per_month(self_host_usd_per_month: float, api_usd_per_mtok: float, capacity_tokens_per_month: float) -> float | None:
    """Monthly tokens above which self-hosting (the monthly cost of the fewest replicas the plan runs,
    with their capacity) is cheaper than the API.

    None when the API stays cheaper even with those replicas fully busy (the crossing lies beyond what
    they can serve, and each added replica adds the same fixed cost again).
    """
    if api_usd_per_mtok <= 0:
        return None
    crossing = self_host_usd_per_month / api_usd_per_mtok * MILLION
    return crossing if crossing <= capacity_tokens_per_month else None


def resolve_assumptions(catalog: Catalog, utilisation: float, amortisation_months: float | None,
                        power_usd_per_kwh: float | None, gpu_usd_per_hour: float | None,
                        gpu_price_for: str | None = None) -> CostAssumptions:
    """User values where given, otherwise the sourced defaults in data/assumptions.csv."""
    return CostAssumptions(
        utilisation=utilisation,
        amortisation_months=amortisation_months or catalog.assumption("amortisation_months"),
        power_usd_per_kwh=power_usd_per_kwh if power_usd_per_kwh is not None else catalog.assumption("power_usd_per_kwh"),
        pue=catalog.assumption("pue"),
        gpu_power_draw_fraction=catalog.assumption("gpu_power_draw_fraction"),
        colocation_usd_per_kw_month=catalog.assumption("colocation_usd_per_kw_month"),
        gpu_usd_per_hour=gpu_usd_per_hour,
        gpu_price_for=gpu_price_for,
    )
