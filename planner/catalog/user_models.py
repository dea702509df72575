"""Models the user adds from Hugging Face `config.json` files, one file or a whole folder at once, kept
in a JSON file of their own beside the shipped catalogue (never written into `data/`).

The file is $PLANNER_USER_MODELS_FILE, else ~/.config/ow-planner/models.json. The CLI's `add-model`
and the Catalogue page's upload both go through `models_from_configs`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import ValidationError

from planner.catalog.atomic_write import write_atomically
from planner.catalog.hf_config import model_from_hf_config, parse_config
from planner.catalog.input_limits import CONFIG_LIMITS, MAX_CONFIG_FILES, JsonLimits, check_text, load_json_file, read_limited
from planner.catalog.loading import Catalog
from planner.catalog.records import ModelSpec
from planner.errors import CatalogError, shown

USER_MODELS_ENV = "PLANNER_USER_MODELS_FILE"
# The user's own file: ~2 KB a model, so 16 MiB holds thousands.
USER_MODELS_LIMITS = JsonLimits(max_bytes=16 << 20, max_items=10_000, max_string_chars=10_000, max_containers=50_000,
                                max_values=1_000_000)


def user_models_path() -> Path:
    override = os.environ.get(USER_MODELS_ENV)
    if override:
        return Path(override).expanduser()
    return Path.home() / ".config" / "ow-planner" / "models.json"


def model_id_for(config: dict, file_name: str) -> str:
    """The id a config adds under: its `_name_or_path` when that names a Hugging Face repo
    (org/name), else the file name, with `org__name.json` read as org/name."""
    named = str(config.get("_name_or_path") or "").strip()
    if named.count("/") == 1 and not named.startswith((".", "/")):
        return named
    stem = Path(file_name).name.removesuffix(".json")
    if stem == "config":
        raise CatalogError(f"{shown(file_name, quote=False)}: cannot tell the model's id from a file named config.json; give its id (--name "
                           "org/model on the command line, Model id on the Catalogue page) or name the file org__model.json")
    return stem.replace("__", "/", 1) if "__" in stem else f"custom/{stem}"


def models_from_configs(files: list[tuple[str, bytes]], model_id: str | None = None) -> list[ModelSpec]:
    """One ModelSpec per (file name, content); `model_id` names a single file's model. A bad file
    raises CatalogError naming it, and nothing is added."""
    if model_id and len(files) != 1:
        raise CatalogError("--name: names one model; with several config files each takes its id from the file")
    if len(files) > MAX_CONFIG_FILES:
        raise CatalogError(f"--config: {len(files):,} config files; at most {MAX_CONFIG_FILES} are added at once.")
    if model_id is not None:
        check_text(model_id, "--name", CatalogError)
    specs = []
    for name, content in files:
        shown_name = shown(Path(name).name, quote=False)
        try:
            parsed = parse_config(content)
            model = model_id or model_id_for(parsed, name)
            check_text(model, "the model id", CatalogError)
            spec = model_from_hf_config(parsed, model)
        except CatalogError as exc:  # the reader names config.json; say which file it was
            raise CatalogError(f"{shown_name}: {str(exc).removeprefix('config.json: ').removeprefix('params.json: ')}") from None
        specs.append(spec.model_copy(update={"source": f"user config: {shown_name}"}))
    return specs


def config_files(path: str | Path) -> list[tuple[str, bytes]]:
    """(name, content) of one config file, or of every *.json in a folder (sorted)."""
    p = Path(path).expanduser()
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix == ".json" and f.is_file())
        if not files:
            raise CatalogError(f"--config: the folder {shown(str(p))} holds no .json files")
        if len(files) > MAX_CONFIG_FILES:
            raise CatalogError(f"--config: the folder holds {len(files):,} .json files; at most {MAX_CONFIG_FILES} are added at once.")
        return [(str(f), read_limited(f, f"--config: {shown(f.name)}", CONFIG_LIMITS.max_bytes, CatalogError)) for f in files]
    if not p.is_file():
        raise CatalogError(f"--config: no file or folder at {shown(str(p))}")
    return [(str(p), read_limited(p, "--config", CONFIG_LIMITS.max_bytes, CatalogError))]


def load_user_models(path: Path | None = None) -> list[ModelSpec]:
    path = path or user_models_path()
    if not path.exists():
        return []
    rows = load_json_file(path, shown(str(path)), USER_MODELS_LIMITS, CatalogError)
    if not isinstance(rows, list):
        raise CatalogError(f"{shown(str(path))}: not a list of models this planner wrote; delete or fix the file")
    models = []
    for i, row in enumerate(rows):
        try:
            models.append(ModelSpec.model_validate(row))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = f"field '{'.'.join(str(p) for p in first['loc'])}': " if first["loc"] else ""
            raise CatalogError(f"{shown(str(path))}: model {i + 1} ({shown(row.get('id') if isinstance(row, dict) else row)}): "
                               f"{where}{first['msg'].removeprefix('Value error, ')}; delete or fix the file") from None
    return models


def save_user_models(added: list[ModelSpec], path: Path | None = None) -> Path:
    """Add (or replace, by id) models in the user's file."""
    path = path or user_models_path()
    kept = {m.id: m for m in load_user_models(path)}
    kept.update({m.id: m for m in added})
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomically(path, json.dumps([m.model_dump(mode="json") for m in kept.values()], indent=2))


def with_user_models(catalog: Catalog) -> Catalog:
    """The catalogue with the user's added models (a shipped id they re-added is replaced)."""
    extra = load_user_models()
    return catalog.with_models(extra) if extra else catalog
