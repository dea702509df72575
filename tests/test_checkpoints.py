"""Published checkpoints: every row names a catalogue model and quant, every model has its release format,
GGUF rows name their file, and a bad row stops loading with file, row and field."""

import csv
import datetime as dt
import shutil
from urllib.parse import urlsplit

import pytest

from planner.catalog.checkpoints import (
    NATIVE_FORMAT_EXCEPTIONS,
    Checkpoint,
    PublishedCheckpoints,
    checkpoints_for,
    load_checkpoints,
    native_format,
)
from planner.catalog.loading import DATA_DIR, read_rows
from planner.errors import CatalogError

MODELS = {row["id"]: row for row in read_rows(DATA_DIR / "models.csv")}
QUANTS = {row["id"]: row for row in read_rows(DATA_DIR / "quants.csv")}


@pytest.fixture(scope="module")
def rows():
    return load_checkpoints(DATA_DIR)


@pytest.fixture(scope="module")
def shelf(rows):
    return PublishedCheckpoints(tuple(rows))


def test_every_row_names_a_catalogue_model_and_quant(rows):
    assert len(rows) >= 400
    for row in rows:
        assert row.model_id in MODELS, row
        assert row.format in QUANTS, row


def test_every_model_has_exactly_one_native_row_or_a_documented_exception(rows):
    natives: dict[str, list[Checkpoint]] = {}
    for row in rows:
        if row.native:
            natives.setdefault(row.model_id, []).append(row)
    for model_id in MODELS:
        if model_id in NATIVE_FORMAT_EXCEPTIONS:
            assert model_id not in natives, f"{model_id} is listed as an exception but has a native row"
            assert len(NATIVE_FORMAT_EXCEPTIONS[model_id]) > 20, "an exception states its reason"
        else:
            assert len(natives.get(model_id, [])) == 1, f"{model_id}: {len(natives.get(model_id, []))} native rows"
    assert set(NATIVE_FORMAT_EXCEPTIONS) <= set(MODELS)


def test_a_native_row_is_the_models_own_repo(rows):
    for row in rows:
        if row.native:
            assert row.repo.split("/")[0].lower() == row.model_id.split("/")[0].lower(), row
            assert row.source == f"https://huggingface.co/{row.model_id}"


def test_gguf_rows_name_a_gguf_file(rows):
    gguf_rows = [r for r in rows if QUANTS[r.format]["format"] == "gguf"]
    assert len(gguf_rows) >= 200
    for row in gguf_rows:
        assert row.file and row.file.endswith(".gguf"), row


def test_no_duplicate_model_format_repo(rows):
    keys = [(r.model_id, r.format, r.repo) for r in rows]
    assert len(keys) == len(set(keys))


def test_sources_are_urls_and_dates_are_real(rows):
    today = dt.date.today()
    for row in rows:
        parts = urlsplit(row.source)
        assert parts.scheme == "https" and parts.netloc, row.source
        assert dt.date(2023, 1, 1) <= row.as_of <= today, row


def test_stated_sizes_agree_with_the_parameter_count(rows):
    """A size_gb read from a listing is within reach of params x bits/weight (catches a GiB/byte slip)."""
    checked = 0
    for row in rows:
        if row.size_gb is None:
            continue
        expected_gb = float(MODELS[row.model_id]["params_total_b"]) * float(QUANTS[row.format]["bits_per_weight"]) / 8
        assert 0.6 * expected_gb <= row.size_gb <= 1.6 * expected_gb, (row.model_id, row.format, row.repo, row.size_gb, expected_gb)
        checked += 1
    assert checked >= 100


def test_the_issue_models_get_their_published_formats(shelf):
    # Issue 21: Qwen3.5-397B has Qwen's own FP8 and GPTQ-Int4 releases; nobody published an AWQ of it.
    assert shelf.is_published("Qwen/Qwen3.5-397B-A17B", "fp8")
    assert shelf.is_published("Qwen/Qwen3.5-397B-A17B", "gptq-int4")
    assert not shelf.is_published("Qwen/Qwen3.5-397B-A17B", "awq-int4")
    assert shelf.native_format("openai/gpt-oss-120b") == "mxfp4"
    assert shelf.native_format("deepseek-ai/DeepSeek-R1") == "fp8"
    assert shelf.native_format("moonshotai/Kimi-K2-Instruct") == "fp8"
    assert shelf.native_format("Qwen/Qwen3-8B") == "bf16"
    assert shelf.native_format("meta-llama/Llama-2-7b-chat-hf") == "fp16"
    assert shelf.native_format("moonshotai/Kimi-K2-Thinking") is None  # INT4 QAT: no quants.csv row


def test_lookups_put_the_native_release_first(rows, shelf):
    found = checkpoints_for(rows, "Qwen/Qwen3-8B")
    assert found[0].native and found[0].repo == "Qwen/Qwen3-8B"
    assert {"bf16", "fp8", "awq-int4", "q4_k_m"} <= {c.format for c in found}
    assert [c.format for c in shelf.checkpoints_for("Qwen/Qwen3-8B", "fp8")] == ["fp8", "fp8"]
    assert native_format(rows, "openai/gpt-oss-20b") == "mxfp4"
    assert shelf.published_formats("no/such-model") == set()
    assert shelf.native("no/such-model") is None


# --- bad input: one clear message naming file, row and field

def _write(tmp_path, mutate):
    """A copy of data/ with checkpoints.csv's first data row changed by `mutate` (a dict -> dict function)."""
    for name in ("models.csv", "quants.csv"):
        shutil.copy(DATA_DIR / name, tmp_path / name)
    with open(DATA_DIR / "checkpoints.csv", newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header, data = list(reader.fieldnames), list(reader)
    first = mutate(dict(data[0]))
    if set(first) - set(header):
        header += sorted(set(first) - set(header))
    with open(tmp_path / "checkpoints.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, restval="")
        writer.writeheader()
        writer.writerow(first)
        writer.writerows(data[1:])
    return tmp_path


@pytest.mark.parametrize(("mutate", "field", "says"), [
    (lambda r: {**r, "model_id": "nobody/no-model"}, "model_id", "not an id in models.csv"),
    (lambda r: {**r, "format": "awq-int3"}, "format", "not a quant id"),
    (lambda r: {**r, "repo": "not a repo"}, "repo", "owner/name"),
    (lambda r: {**r, "source": "the HF page"}, "source", "URL"),
    (lambda r: {**r, "as_of": "last week"}, "as_of", "date"),
    (lambda r: {**r, "size_gb": "-3"}, "size_gb", "greater than 0"),
    (lambda r: {**r, "native": "maybe"}, "native", "bool"),
    (lambda r: {**r, "colour": "blue"}, "colour", "Extra inputs"),
])
def test_a_bad_row_names_file_row_and_field(tmp_path, mutate, field, says):
    with pytest.raises(CatalogError) as err:
        load_checkpoints(_write(tmp_path, mutate))
    message = str(err.value)
    assert message.startswith(f"checkpoints.csv, row 2, field '{field}'"), message
    assert says.lower() in message.lower(), message
    assert "\n" not in message


def test_a_gguf_row_without_its_file_is_refused(tmp_path):
    gguf_row = next(r for r in read_rows(DATA_DIR / "checkpoints.csv") if QUANTS[r["format"]]["format"] == "gguf")
    with pytest.raises(CatalogError, match=r"row 2, field 'file': a GGUF checkpoint"):
        load_checkpoints(_write(tmp_path, lambda r: {**gguf_row, "file": ""}))


def test_a_second_native_row_or_a_duplicate_is_refused(tmp_path):
    rows = read_rows(DATA_DIR / "checkpoints.csv")
    later = rows[5]
    later_native = next(r for r in rows[1:] if r["native"] == "yes")
    # The first row becomes a copy of a later row: the later one is then a duplicate.
    with pytest.raises(CatalogError, match=r"field 'repo': duplicate of row 2"):
        load_checkpoints(_write(tmp_path, lambda r: dict(later)))
    # The first row becomes a second native row (another repo) of a model whose own native row comes later.
    with pytest.raises(CatalogError, match=r"field 'native': .* already has its native row at row 2"):
        load_checkpoints(_write(tmp_path, lambda r: {**later_native, "repo": "example/another-release"}))


def test_a_missing_file_says_where_it_was_expected(tmp_path):
    with pytest.raises(CatalogError, match="checkpoints.csv: the data file is missing"):
        load_checkpoints(tmp_path)
