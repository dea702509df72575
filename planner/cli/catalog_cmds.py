"""Catalogue commands: add models from config.json files, refresh API prices from a price list.

    python -m planner add-model --config config.json|FOLDER [--name org/model] [--json]
    python -m planner refresh prices (--litellm FILE | --genai-prices) [--write] [--as-of DATE] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from planner.catalog.loading import DATA_DIR, load_catalog
from planner.cli.parser import id_text
from planner.errors import CatalogError, shown


def register(sub) -> None:
    add = sub.add_parser("add-model", help="add models from Hugging Face config.json files (a file or a folder)")
    add.add_argument("--config", required=True, help="a config.json, or a folder of them (named org__model.json)")
    add.add_argument("--name", default=None, type=id_text, help="the model's id (org/model) when adding one file")
    add.add_argument("--json", action="store_true")
    add.set_defaults(func=_add_model)

    refresh = sub.add_parser("refresh", help="refresh catalogue data from a file on disk (offline)")
    what = refresh.add_subparsers(dest="what", required=True)
    prices = what.add_parser("prices", help="per-token API prices")
    source = prices.add_mutually_exclusive_group(required=True)
    source.add_argument("--litellm", metavar="FILE", help="LiteLLM's model_prices_and_context_window.json")
    source.add_argument("--genai-prices", action="store_true", help="the installed genai-prices package's data")
    prices.add_argument("--write", action="store_true", help="write the prices file (default: only show the diff)")
    prices.add_argument("--prices-file", default=str(DATA_DIR / "api_prices.csv"),
                        help="the api_prices.csv to write (default: the shipped data/api_prices.csv)")
    prices.add_argument("--as-of", type=_date, default=None, help="date of the price list (default: today)")
    prices.add_argument("--json", action="store_true")
    prices.set_defaults(func=_refresh_prices)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{shown(text, 40)} is not a date (YYYY-MM-DD)") from None


def _add_model(args: argparse.Namespace) -> int:
    from planner.catalog.user_models import config_files, models_from_configs, save_user_models

    specs = models_from_configs(config_files(args.config), args.name)
    path = save_user_models(specs)
    if args.json:
        json.dump([s.model_dump(mode="json") for s in specs], sys.stdout, indent=2)
        print()
        return 0
    for s in specs:
        kinds = [k for k, on in (("MoE", s.is_moe), ("latent attention", s.uses_latent_attention), ("hybrid linear attention", s.is_hybrid),
                                 ("sliding window", bool(s.sliding_window_layers))) if on]
        print(f"added {s.id}: {s.params_total_b:g} B parameters ({s.params_active_b:g} B active), {s.layers} layers, "
              f"{s.max_context_tokens:,} tokens of context{'; ' + ', '.join(kinds) if kinds else ''}")
    print(f"saved to {path}: the CLI's plan, estimate and catalog include it; in the dashboard, upload the same "
          "file on the Catalogue page")
    return 0


def _refresh_prices(args: argparse.Namespace) -> int:
    from planner.catalog import price_refresh as pr
    from planner.catalog.input_limits import PRICE_LIST_LIMITS, read_limited

    catalog = load_catalog()
    as_of = args.as_of or dt.date.today()
    if args.litellm:
        text = read_limited(args.litellm, "--litellm", PRICE_LIST_LIMITS.max_bytes, CatalogError)
        quotes, source, how = pr.litellm_quotes(text), pr.LITELLM_SOURCE, "LiteLLM model_prices_and_context_window.json"
    else:
        quotes, source = pr.genai_prices_quotes(catalog), pr.GENAI_PRICES_SOURCE
        how = f"genai-prices {pr.genai_prices_version()}"
    changes = pr.price_diff(catalog, quotes, as_of)
    if args.write:  # before anything is printed: "written" is said only of a file that was replaced
        pr.write_prices(Path(args.prices_file), changes, source, how)
    if args.json:
        json.dump({"source": source, "as_of": as_of.isoformat(), "written": bool(args.write),
                   "changes": [c.__dict__ for c in changes]}, sys.stdout, indent=2, default=str, allow_nan=False)
        print()
        return 0
    counts = {k: sum(c.kind == k for c in changes) for k in ("added", "changed", "unchanged")}
    print(f"{how}: {counts['added']} added, {counts['changed']} changed, {counts['unchanged']} unchanged "
          f"(of {len(catalog.apis)} API rows)")
    for c in changes:
        if c.kind == "changed":
            print(f"  changed {c.id}: ${c.old_input:g} / ${c.old_output:g} ({c.old_as_of}) -> ${c.new_input:g} / ${c.new_output:g} ({c.new_as_of})")
        elif c.kind == "added":
            print(f"  added   {c.id}: ${c.new_input:g} / ${c.new_output:g} per M tokens ({c.new_as_of})")
        else:
            print(f"  same    {c.id}: ${c.new_input:g} / ${c.new_output:g}, re-dated {c.old_as_of} -> {c.new_as_of}")
    print(f"wrote {args.prices_file}" if args.write else "nothing written (add --write to apply)")
    return 0
