"""Published checkpoints: which files of a model exist, in which format, from whom.

A plan may only recommend a checkpoint somebody published (DESIGN.md, "Build only what exists"):
the native release (the format the model's own organisation released it in) and the quantized
repos of its organisation or of named community quantizers (unsloth, bartowski, ggml-org, RedHatAI,
nvidia ...). One row of `data/checkpoints.csv` is one published artefact; a GGUF row names the file
(or the first shard) because one GGUF repo holds many formats.

`load_checkpoints` validates every row and stops at the first bad one with the file, the row (as a
spreadsheet shows it, header = row 1) and the field. It also checks each row against the catalogue:
`model_id` must be an id of data/models.csv and `format` an id of data/quants.csv.
"""

from __future__ import annotations

import csv
import functools
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from planner.errors import CatalogError

FILE_NAME = "checkpoints.csv"

# Models whose native release format has no row in data/quants.csv, so no native row can name it.
# Each entry says why; tests hold that every other model in models.csv has exactly one native row.
NATIVE_FORMAT_EXCEPTIONS: dict[str, str] = {
    "moonshotai/Kimi-K2-Thinking": "released as INT4 weight-only (W4A16, group 32, quantization-aware trained; "
                                   "compressed-tensors): no int4-QAT row in quants.csv",
    "moonshotai/Kimi-K2.5": "released as INT4 weight-only (W4A16, group 32, quantization-aware trained; "
                            "compressed-tensors): no int4-QAT row in quants.csv",
    "allenai/OLMo-2-1124-13B-Instruct": "release dtype not established: the base model's config.json says float32 "
                                        "(no fp32 row in quants.csv) and the instruct repo's own config was not read",
    "allenai/OLMo-2-0325-32B-Instruct": "release dtype not established: the base model's config.json says float32 "
                                        "(no fp32 row in quants.csv) and the instruct repo's own config was not read",
    "MiniMaxAI/MiniMax-M1-80k": "release dtype not found in any stored copy (the config copy in data/configs has no "
                                "torch_dtype); not guessed",
}

_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def _blank_to_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


def _yes_no(value: object) -> object:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"yes", "true", "1"}:
            return True
        if lowered in {"no", "false", "0", ""}:
            return False
    return value


_OptStr = Annotated[str | None, BeforeValidator(_blank_to_none)]


class Checkpoint(BaseModel):
    """One published artefact: a Hugging Face repo (and for GGUF one file of it) holding a model in one format."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    model_id: Annotated[str, Field(min_length=3)]
    format: Annotated[str, Field(min_length=2)]
    repo: str
    file: _OptStr = None
    ollama_tag: _OptStr = None
    publisher: Annotated[str, Field(min_length=2)]
    native: Annotated[bool, BeforeValidator(_yes_no)] = False
    size_gb: Annotated[Annotated[float, Field(gt=0)] | None, BeforeValidator(_blank_to_none)] = None
    source: str
    as_of: dt.date
    notes: _OptStr = None

    @field_validator("repo")
    @classmethod
    def _repo_is_owner_slash_name(cls, value: str) -> str:
        if not _REPO.match(value):
            raise ValueError("must be a Hugging Face repo id 'owner/name'")
        return value

    @field_validator("file")
    @classmethod
    def _file_is_gguf(cls, value: str | None) -> str | None:
        if value is not None and not value.endswith(".gguf"):
            raise ValueError("must be a .gguf file name (blank for safetensors repos)")
        return value

    @field_validator("source")
    @classmethod
    def _source_is_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be a URL starting with https://")
        return value

    @property
    def url(self) -> str:
        """The Hugging Face page of the repo."""
        return f"https://huggingface.co/{self.repo}"


def load_checkpoints(data_dir: Path, model_ids: Iterable[str] | None = None,
                     quant_formats: dict[str, str] | None = None) -> list[Checkpoint]:
    """Every row of `data_dir/checkpoints.csv`, validated.

    `model_ids` (default: the ids of data_dir/models.csv) and `quant_formats` (quant id -> its family,
    default: read from data_dir/quants.csv) are what a row may name; a GGUF-family format needs `file`.
    Raises CatalogError naming file, row and field.
    """
    path = Path(data_dir) / FILE_NAME
    if not path.exists():
        raise CatalogError(f"{FILE_NAME}: the data file is missing (expected at {path}).")
    known_models = set(model_ids) if model_ids is not None else _ids(Path(data_dir) / "models.csv")
    formats = quant_formats if quant_formats is not None else _quant_formats(Path(data_dir) / "quants.csv")
    rows: list[Checkpoint] = []
    seen: dict[tuple[str, str, str], int] = {}
    natives: dict[str, int] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for row_number, row in enumerate(csv.DictReader(handle), start=2):
            if None in row:
                raise CatalogError(f"{FILE_NAME}, row {row_number}: more cells than columns in the header.")
            try:
                record = Checkpoint.model_validate(row)
            except ValidationError as exc:
                raise CatalogError(_describe(row_number, exc)) from None
            _check_against_catalogue(record, row_number, known_models, formats)
            key = (record.model_id, record.format, record.repo)
            if key in seen:
                raise CatalogError(f"{FILE_NAME}, row {row_number}, field 'repo': duplicate of row {seen[key]} "
                                   f"({record.model_id}, {record.format}, {record.repo}).")
            seen[key] = row_number
            if record.native:
                if record.model_id in natives:
                    raise CatalogError(f"{FILE_NAME}, row {row_number}, field 'native': {record.model_id} already has "
                                       f"its native row at row {natives[record.model_id]}; a model has one native format.")
                natives[record.model_id] = row_number
            rows.append(record)
    return rows


@dataclass(frozen=True)
class PublishedCheckpoints:
    """Look-ups over the loaded rows: what is published for a model, and what it was released in."""

    rows: tuple[Checkpoint, ...]

    def checkpoints_for(self, model_id: str, fmt: str | None = None) -> list[Checkpoint]:
        """The model's published checkpoints (of one format when `fmt` is given), native first."""
        found = [c for c in self.rows if c.model_id == model_id and (fmt is None or c.format == fmt)]
        return sorted(found, key=lambda c: not c.native)

    def native(self, model_id: str) -> Checkpoint | None:
        """The model's own release checkpoint, or None where its native format is not in the catalogue."""
        return self._natives.get(model_id)

    @functools.cached_property
    def _natives(self) -> dict[str, Checkpoint]:
        return {c.model_id: c for c in self.rows if c.native}

    def native_format(self, model_id: str) -> str | None:
        """The quant id the model was released in (bf16, fp8, mxfp4 ...), or None where not known."""
        row = self.native(model_id)
        return row.format if row else None

    def published_formats(self, model_id: str) -> set[str]:
        """Every format somebody published the model in (the native one included)."""
        return set(self._formats.get(model_id, ()))

    @functools.cached_property
    def _formats(self) -> dict[str, frozenset[str]]:
        out: dict[str, set[str]] = {}
        for c in self.rows:
            out.setdefault(c.model_id, set()).add(c.format)
        return {k: frozenset(v) for k, v in out.items()}

    def is_published(self, model_id: str, fmt: str) -> bool:
        return any(c.model_id == model_id and c.format == fmt for c in self.rows)


def checkpoints_for(checkpoints: Iterable[Checkpoint], model_id: str) -> list[Checkpoint]:
    """The model's published checkpoints, native first."""
    return PublishedCheckpoints(tuple(checkpoints)).checkpoints_for(model_id)


def native_format(checkpoints: Iterable[Checkpoint], model_id: str) -> str | None:
    """The quant id the model was released in, or None where not known."""
    return PublishedCheckpoints(tuple(checkpoints)).native_format(model_id)


def _check_against_catalogue(record: Checkpoint, row_number: int, known_models: set[str],
                             formats: dict[str, str]) -> None:
    where = f"{FILE_NAME}, row {row_number}"
    if known_models and record.model_id not in known_models:
        raise CatalogError(f"{where}, field 'model_id': '{record.model_id}' is not an id in models.csv.")
    if formats:
        if record.format not in formats:
            raise CatalogError(f"{where}, field 'format': '{record.format}' is not a quant id; allowed: "
                               f"{', '.join(sorted(formats))}.")
        if formats[record.format] == "gguf" and record.file is None:
            raise CatalogError(f"{where}, field 'file': a GGUF checkpoint ({record.format}) names its file "
                               f"(or its first shard).")


def _ids(path: Path) -> set[str]:
    if not path.exists():
        return set()
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["id"].strip() for row in csv.DictReader(handle)}


def _quant_formats(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["id"].strip(): row["format"].strip() for row in csv.DictReader(handle)}


def _describe(row_number: int, exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "row"
    value = first.get("input")
    shown = f" (got {value!r})" if isinstance(value, str | int | float) else ""
    message = first["msg"].removeprefix("Value error, ")
    return f"{FILE_NAME}, row {row_number}, field '{where}': {message}{shown}."


# Formats an engine makes on load from a 16-bit checkpoint, so no quantized checkpoint need be published:
# vLLM's dynamic FP8 (`--quantization fp8`, docs/features/quantization/fp8.md; vLLM 0.33 dropped bitsandbytes:
# data/engine_support.csv); SGLang's `--quantization fp8` and bitsandbytes (--load-format bitsandbytes).
QUANTIZED_ON_LOAD = {"vllm": {"fp8": "fp8"}, "sglang": {"fp8": "fp8", "bnb-nf4": "bitsandbytes"}, "tensorrt-llm": {}}
SIXTEEN_BIT = {"bf16", "fp16"}  # engines cast one to the other on load (--dtype)
GGUF_ENGINES = {"llama.cpp", "ollama"}
# convert_hf_to_gguf.py --outtype writes these from a 16-bit checkpoint directly (llama.cpp's converter)
GGUF_FROM_16_BIT = {"bf16", "fp16", "q8_0"}


@functools.cache
def default_checkpoints() -> PublishedCheckpoints:
    """The checkpoints in data/, read once."""
    from planner.catalog.loading import DATA_DIR  # loading imports the records this module shares

    return PublishedCheckpoints(tuple(load_checkpoints(DATA_DIR)))


def deployable_formats(published: PublishedCheckpoints, model_id: str, engine_id: str) -> set[str] | None:
    """The weight formats `engine_id` can serve the model in without anybody quantizing it.

    GPU engines (vLLM, SGLang, TensorRT-LLM) load safetensors repos: the published ones, the other 16-bit type of a
    16-bit release (a cast on load) and the formats the engine makes on load from it (QUANTIZED_ON_LOAD).
    llama.cpp and Ollama load GGUF files: the published ones, and from a 16-bit release the files llama.cpp's own
    converter writes in one step (GGUF_FROM_16_BIT: no calibration data, no quantization tool).
    None for a model the catalogue has no checkpoint rows for (the user's own: its config describes the checkpoint
    they hold, taken as 16-bit)."""
    rows = published.checkpoints_for(model_id)
    if not rows:
        return None
    gguf_engine = engine_id in GGUF_ENGINES
    sixteen = any(r.format in SIXTEEN_BIT and not r.file for r in rows)  # a 16-bit safetensors release
    if gguf_engine:
        return {r.format for r in rows if r.file} | (GGUF_FROM_16_BIT if sixteen else set())
    formats = {r.format for r in rows if not r.file}
    if sixteen:
        formats |= SIXTEEN_BIT | set(QUANTIZED_ON_LOAD.get(engine_id, {}))
    return formats
