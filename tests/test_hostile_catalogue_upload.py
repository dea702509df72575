"""Hostile config.json uploads on the Catalogue page: each is refused in place with one line naming the
field, never a traceback in the browser (no exception, no server file path), and nothing joins the catalogue."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
BASE = json.loads((ROOT / "data" / "configs" / "HuggingFaceTB__SmolLM3-3B.json").read_text())
UPLOADS = {  # what was a ZeroDivisionError, a RecursionError and an Arrow conversion error, and more
    "num_attention_heads": json.dumps({**BASE, "num_attention_heads": 0}).encode(),
    "nested": b'{"text_config": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
    "vocab_size": json.dumps({**BASE, "vocab_size": 1e30}).encode(),
    "num_hidden_layers": json.dumps({**BASE, "num_hidden_layers": 10**12}).encode(),
    "head_dim": json.dumps({**BASE, "head_dim": 0}).encode(),
    "num_key_value_heads": json.dumps({**BASE, "num_key_value_heads": 3}).encode(),
    "not UTF-8": b'{"model_type": "caf\xe9"}',
}


def test_hostile_uploads_are_refused_in_place_naming_the_field():
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    at.switch_page("pages/catalogue.py").run()
    models_before = len(at.session_state["custom_models"]) if "custom_models" in at.session_state else 0
    for needle, content in UPLOADS.items():
        at.file_uploader(key="hf_config").set_value(("acme__hostile.json", content, "application/json"))
        at.button(key="hf_add").click().run()
        assert not at.exception, [e.value for e in at.exception]
        errors = [e.value.replace("\\", "") for e in at.error]  # the page escapes Markdown in what it shows
        assert len(errors) == 1 and needle in errors[0], (needle, errors)
        assert "\n" not in errors[0] and ".py" not in errors[0] and "Traceback" not in errors[0], errors[0]
    models_after = len(at.session_state["custom_models"]) if "custom_models" in at.session_state else 0
    assert models_after == models_before
