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

from planner.catalog.hf_config import model_from_hf_config, parse_config
from planner.catalog.loading import Catalog
from planner.catalog.records import ModelSpec
from planner.errors import CatalogError

USER_MODELS_ENV = "PLANNER_USER_MODELS_FILE"


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
        raise CatalogError(f"{file_name}: cannot tell the model's id from a file named config.json; give its id (--name "
                           "org/model on the command line, Model id on the Catalogue page) or name the file org__model.json")
    return stem.replace("__", "/", 1) if "__" in stem else f"custom/{stem}"


def models_from_configs(files: list[tuple[str, bytes]], model_id: str | None = None) -> list[ModelSpec]:
    """One ModelSpec per (file name, content); `model_id` names a single file's model. A bad file
    raises CatalogError naming it, and nothing is added."""
    if model_id and len(files) != 1:
        raise CatalogError("--name: names one model; with several config files each takes its id from the file")
    specs = []
    for name, content in files:
        try:
            parsed = parse_config(content)
            spec = model_from_hf_config(parsed, model_id or model_id_for(parsed, name))
        except CatalogError as exc:  # the reader names config.json; say which file it was
            raise CatalogError(f"{Path(name).name}: {str(exc).removeprefix('config.json: ')}") from None
        specs.append(spec.model_copy(update={"source": f"user config: {Path(name).name}"}))
    return specs


def config_files(path: str | Path) -> list[tuple[str, bytes]]:
    """(name, content) of one config file, or of every *.json in a folder (sorted)."""
    p = Path(path).expanduser()
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix == ".json" and f.is_file())
        if not files:
            raise CatalogError(f"--config: the folder {p} holds no .json files")
        return [(str(f), f.read_bytes()) for f in files]
    if not p.is_file():
        raise CatalogError(f"--config: no file or folder at {p}")
    return [(str(p), p.read_bytes())]


def load_user_models(path: Path | None = None) -> list[ModelSpec]:
    path = path or user_models_path()
    if not path.exists():
        return []
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        return [ModelSpec.model_validate(r) for r in rows]
    except (json.JSONDecodeError, ValidationError, TypeError) as exc:
        raise CatalogError(f"{path}: not a list of models this planner wrote ({exc.__class__.__name__}); "
                           "delete or fix the file") from None


def save_user_models(added: list[ModelSpec], path: Path | None = None) -> Path:
    """Add (or replace, by id) models in the user's file."""
    path = path or user_models_path()
    kept = {m.id: m for m in load_user_models(path)}
    kept.update({m.id: m for m in added})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([m.model_dump(mode="json") for m in kept.values()], indent=2), encoding="utf-8")
    return path


def with_user_models(catalog: Catalog) -> Catalog:
    """The catalogue with the user's added models (a shipped id they re-added is replaced)."""
    extra = load_user_models()
    return catalog.with_models(extra) if extra else catalog
