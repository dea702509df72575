"""Refresh per-token API prices from a price list the user has on disk: LiteLLM's
`model_prices_and_context_window.json`, or the `genai-prices` package's data if it is installed.

Offline and explicit: nothing is fetched; `price_diff` says what would change (added, changed,
unchanged, with old and new price and date) and `write_prices` writes data/api_prices.csv only when
asked, atomically, and only rows that validate as `ApiPrice` (finite prices in range). A file that is
not valid JSON, not shaped like LiteLLM's, beyond the door's limits (planner.catalog.input_limits), or
with a price or context out of range, is refused with one line naming the entry and field, and nothing
changes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from planner.catalog.atomic_write import write_atomically
from planner.catalog.input_limits import PRICE_LIST_LIMITS, JsonLimits, check_text, load_json, read_limited
from planner.catalog.loading import Catalog
from planner.catalog.records import ApiPrice
from planner.errors import CatalogError, shown

LITELLM_SOURCE = "https://github.com/BerriAI/litellm/blob/main/model_prices_and_context_window.json"
GENAI_PRICES_SOURCE = "https://github.com/pydantic/genai-prices"
# LiteLLM's `litellm_provider` and key prefix -> the provider names of data/api_prices.csv
LITELLM_PROVIDERS = {"openai": "openai", "anthropic": "anthropic", "gemini": "google", "together_ai": "together",
                     "deepinfra": "deepinfra", "fireworks_ai": "fireworks", "groq": "groq", "replicate": "replicate"}
# genai-prices' provider ids for the same providers (DeepInfra and Replicate have none there)
GENAI_PROVIDERS = {"openai": "openai", "anthropic": "anthropic", "google": "google", "together": "together",
                   "fireworks": "fireworks", "groq": "groq"}
_DATED = re.compile(r"-\d{8}$|-\d{4}-\d{2}-\d{2}$")
# USD per token: list prices run to a few hundred dollars per million tokens; $10,000 per million is far above
# any, and a larger figure is a unit slip (per million given as per token) or a corrupt file.
MAX_USD_PER_TOKEN = 0.01
MAX_CONTEXT_TOKENS = 16_777_216  # as ModelSpec.max_context_tokens (planner.catalog.plausible)
PRICES_CSV_LIMITS = JsonLimits(max_bytes=16 << 20)  # api_prices.csv: ~150 rows of ~500 bytes
_COLUMNS = ("id", "provider", "model", "usd_per_mtok_input", "usd_per_mtok_output", "source", "as_of")


@dataclass(frozen=True)
class PriceQuote:
    """One provider's per-token price for one model, in USD per million tokens."""

    provider: str
    model: str
    usd_per_mtok_input: float
    usd_per_mtok_output: float
    context_tokens: int | None = None


@dataclass(frozen=True)
class PriceChange:
    id: str
    kind: str  # added | changed | unchanged
    new_input: float
    new_output: float
    new_as_of: str
    old_input: float | None = None
    old_output: float | None = None
    old_as_of: str | None = None
    row: dict = field(default_factory=dict)  # the whole row, for an added one


def litellm_quotes(text: str | bytes) -> list[PriceQuote]:
    """Quotes for the providers the catalogue prices, from LiteLLM's JSON."""
    data = load_json(text, "--litellm", PRICE_LIST_LIMITS, CatalogError)
    if not isinstance(data, dict) or not any(isinstance(v, dict) and "input_cost_per_token" in v for v in data.values()):
        raise CatalogError("--litellm: not LiteLLM's model_prices_and_context_window.json (an object of models with "
                           "input_cost_per_token, output_cost_per_token and litellm_provider)")
    quotes = []
    for key, entry in data.items():
        if key == "sample_spec" or not isinstance(entry, dict):
            continue
        provider = LITELLM_PROVIDERS.get(str(entry.get("litellm_provider", "")))
        if provider is None or entry.get("mode", "chat") != "chat":
            continue
        cost_in, cost_out = entry.get("input_cost_per_token"), entry.get("output_cost_per_token")
        if cost_in is None or cost_out is None:
            continue
        check_text(key, f"--litellm: entry {shown(key)}", CatalogError)
        for name, cost in (("input_cost_per_token", cost_in), ("output_cost_per_token", cost_out)):
            if not isinstance(cost, int | float) or isinstance(cost, bool) or not 0 <= cost <= MAX_USD_PER_TOKEN:
                raise CatalogError(f"--litellm: entry {shown(key)}: {name} must be a number from 0 to {MAX_USD_PER_TOKEN:g} "
                                   f"(USD per token, ${MAX_USD_PER_TOKEN * 1e6:,.0f} per million), got {shown(cost)}")
        prefix = str(entry["litellm_provider"]) + "/"
        model = key[len(prefix):] if key.startswith(prefix) else key
        quotes.append(PriceQuote(provider, model, round(cost_in * 1e6, 6), round(cost_out * 1e6, 6),
                                 _context(key, entry.get("max_input_tokens"))))
    return quotes


def _context(key: str, value: object) -> int | None:
    """An entry's max_input_tokens: a whole number of tokens in range, or none given."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if type(value) is not int or not 1 <= value <= MAX_CONTEXT_TOKENS:
        raise CatalogError(f"--litellm: entry {shown(key)}: max_input_tokens must be a whole number from 1 to "
                           f"{MAX_CONTEXT_TOKENS:,}, got {shown(value)}")
    return value


def genai_prices_quotes(catalog: Catalog) -> list[PriceQuote]:
    """Quotes from the installed `genai-prices` package, for the catalogue's own API rows (its public
    `calc_price`, at 1,000 tokens so no long-prompt tier applies)."""
    try:
        import genai_prices
    except ImportError:
        raise CatalogError("--genai-prices: the genai-prices package is not installed (pip install genai-prices)") from None
    quotes = []
    for api in catalog.apis.values():
        model, provider_id = api.model, GENAI_PROVIDERS.get(api.provider)
        if api.provider == "huggingface" and ":" in api.model:  # the router's model:partner, priced by that partner
            model, partner = api.model.rsplit(":", 1)
            provider_id = f"huggingface_{partner}"
        if provider_id is None:
            continue
        try:
            cost_in = genai_prices.calc_price(genai_prices.Usage(input_tokens=1000), model, provider_id=provider_id)
            cost_out = genai_prices.calc_price(genai_prices.Usage(output_tokens=1000), model, provider_id=provider_id)
        except LookupError:
            continue
        quotes.append(PriceQuote(api.provider, api.model, round(float(cost_in.total_price) * 1000, 6),
                                 round(float(cost_out.total_price) * 1000, 6)))
    return quotes


def genai_prices_version() -> str:
    from importlib.metadata import version

    return version("genai-prices")


def price_diff(catalog: Catalog, quotes: list[PriceQuote], as_of: dt.date) -> list[PriceChange]:
    """What the quotes would change. A quote matches a row of the same provider and model name (case
    aside, a dated snapshot name standing for its undated row when no exact name matches). Rows for
    an open model the catalogue holds, that the table lacks, are added; other new models are not
    (a closed model needs a task score before the planner can compare it)."""
    by_name = {(q.provider, q.model.lower()): q for q in quotes}
    for q in quotes:
        by_name.setdefault((q.provider, _DATED.sub("", q.model.lower())), q)
    changes, seen = [], set()
    for api in catalog.apis.values():
        quote = by_name.get((api.provider, api.model.lower()))
        if quote is None:
            continue
        seen.add((quote.provider, quote.model.lower()))
        same = (abs(quote.usd_per_mtok_input - api.usd_per_mtok_input) < 1e-9
                and abs(quote.usd_per_mtok_output - api.usd_per_mtok_output) < 1e-9)
        changes.append(PriceChange(api.id, "unchanged" if same else "changed", quote.usd_per_mtok_input, quote.usd_per_mtok_output,
                                   as_of.isoformat(), api.usd_per_mtok_input, api.usd_per_mtok_output, api.as_of.isoformat()))
    open_ids = {m.id.split("/")[-1].lower(): m.id for m in catalog.models.values()}
    taken = set(catalog.apis)
    for q in quotes:
        hf_id = open_ids.get(q.model.split("/")[-1].lower())
        new_id = f"{q.provider}/{q.model.split('/')[-1].lower()}"
        if (q.provider, q.model.lower()) in seen or hf_id is None or new_id in taken:
            continue
        taken.add(new_id)
        changes.append(PriceChange(new_id, "added", q.usd_per_mtok_input, q.usd_per_mtok_output, as_of.isoformat(), row={
            "id": new_id, "provider": q.provider, "model": q.model, "hf_model_id": hf_id, "open_weights": "true",
            "usd_per_mtok_input": q.usd_per_mtok_input, "usd_per_mtok_output": q.usd_per_mtok_output,
            "context_tokens": q.context_tokens or ""}))
    return changes


def write_prices(path: Path, changes: list[PriceChange], source: str, how: str) -> int:
    """Apply changed and unchanged (re-dated) rows and append added ones; returns rows written. Every row of the
    result must validate as `ApiPrice` (a finite, non-negative price, a sourced date) before the file is replaced,
    in one step (planner.catalog.atomic_write): a refusal or a failed write leaves it as it was."""
    columns, rows = _read_prices(path)
    by_id = {c.id: c for c in changes}
    for row in rows:
        change = by_id.get(row["id"])
        if change is None or change.kind == "added":
            continue
        note = (f"Refreshed {change.new_as_of} from {how}: was ${change.old_input:g} / ${change.old_output:g} per M tokens "
                f"(as of {change.old_as_of}). " if change.kind == "changed" else f"Confirmed {change.new_as_of} by {how}. ")
        row.update(usd_per_mtok_input=f"{change.new_input:g}", usd_per_mtok_output=f"{change.new_output:g}", source=source,
                   as_of=change.new_as_of, notes=note + (row.get("notes") or ""))
    for change in changes:
        if change.kind == "added":
            rows.append({**{c: "" for c in columns}, **{k: str(v) for k, v in change.row.items()}, "source": source,
                         "as_of": change.new_as_of, "notes": f"Imported {change.new_as_of} from {how}."})
    for row in rows:
        _check_row(path, row)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    try:
        write_atomically(path, out.getvalue())
    except UnicodeEncodeError as exc:
        raise CatalogError(f"{shown(str(path))}: a row holds text that is not UTF-8 ({shown(exc.object[exc.start:exc.end])}); "
                           "nothing written") from None
    return len(changes)


def _check_row(path: Path, row: dict) -> None:
    """A row the catalogue will load: an `ApiPrice`, its prices finite and at most $10,000 per million tokens."""
    try:
        price = ApiPrice.model_validate({k: v for k, v in row.items() if k in ApiPrice.model_fields})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "row"
        raise CatalogError(f"{shown(str(path))}: row {shown(row.get('id'))} would not load ({where}: {first['msg']}); "
                           "nothing written") from None
    for name in ("usd_per_mtok_input", "usd_per_mtok_output"):
        if not getattr(price, name) <= MAX_USD_PER_TOKEN * 1e6:  # False for NaN and Infinity too
            raise CatalogError(f"{shown(str(path))}: row {shown(price.id)}: {name} must be at most "
                               f"{MAX_USD_PER_TOKEN * 1e6:,.0f}, got {shown(getattr(price, name))}; nothing written")
    if price.context_tokens is not None and not 1 <= price.context_tokens <= MAX_CONTEXT_TOKENS:
        raise CatalogError(f"{shown(str(path))}: row {shown(price.id)}: context_tokens must be 1 to {MAX_CONTEXT_TOKENS:,}, "
                           f"got {price.context_tokens}; nothing written")


def _read_prices(path: Path) -> tuple[list[str], list[dict]]:
    raw = read_limited(path, f"--prices-file {shown(str(path))}", PRICES_CSV_LIMITS.max_bytes, CatalogError)
    try:
        reader = csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline=""))
        columns, rows = list(reader.fieldnames or []), list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CatalogError(f"--prices-file {shown(str(path))}: not a UTF-8 CSV file ({exc.__class__.__name__}).") from None
    missing = [c for c in _COLUMNS if c not in columns]
    if missing:
        raise CatalogError(f"--prices-file {shown(str(path))}: no '{missing[0]}' column; it must be an api_prices.csv "
                           f"with the columns {', '.join(_COLUMNS)}.")
    if any(None in row for row in rows):
        raise CatalogError(f"--prices-file {shown(str(path))}: a row has more cells than the header has columns.")
    return columns, rows
