"""How old the catalogue's figures are: prices older than STALE_AFTER_DAYS are flagged wherever they
are shown (the Catalogue page, the PDF), and every plan names the oldest price it used."""

from __future__ import annotations

import datetime as dt

from planner.catalog.loading import Catalog

STALE_AFTER_DAYS = 180  # a price list half a year old has usually moved (new parts, cuts, new tiers)


def age_days(as_of: dt.date, today: dt.date | None = None) -> int:
    return ((today or dt.date.today()) - as_of).days


def is_stale(as_of: dt.date, today: dt.date | None = None) -> bool:
    return age_days(as_of, today) > STALE_AFTER_DAYS


def price_entry(kind: str, ident: str, provider: str, as_of: dt.date, today: dt.date | None = None) -> dict:
    days = age_days(as_of, today)
    return {"kind": kind, "id": ident, "provider": provider, "as_of": as_of.isoformat(), "age_days": days,
            "stale": days > STALE_AFTER_DAYS}


def oldest_price(catalog: Catalog, used: list[dict], api_ids: list[str]) -> dict:
    """The oldest of the prices a plan used (`used`: price_entry rows, e.g. its pick's GPU price, and the
    APIs it compared), {} if none."""
    entries = list(used)
    for api_id in api_ids:
        api = catalog.apis.get(api_id)
        if api is not None:
            entries.append(price_entry("api", api.id, api.provider, api.as_of))
    return min(entries, key=lambda e: e["as_of"]) if entries else {}


def describe(entry: dict) -> str:
    """One sentence for a plan's oldest price (the CLI summary, the Plan page and the PDF say it alike)."""
    text = f"Oldest price used: {entry['kind']} {entry['id']} ({entry['provider']}), {entry['as_of']}, {entry['age_days']} days old"
    return text + (f"; older than {STALE_AFTER_DAYS} days: refresh it (python -m planner refresh prices) or set your own price."
                   if entry["stale"] else ".")


def stale_price_rows(catalog: Catalog, today: dt.date | None = None) -> list[dict]:
    """Every GPU and API price older than STALE_AFTER_DAYS, oldest first."""
    rows = [price_entry(f"gpu {p.price_kind}", p.gpu, p.provider, p.as_of, today) for p in catalog.gpu_prices if is_stale(p.as_of, today)]
    rows += [price_entry("api", a.id, a.provider, a.as_of, today) for a in catalog.apis.values() if is_stale(a.as_of, today)]
    return sorted(rows, key=lambda e: e["as_of"])
