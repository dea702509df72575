"""The Hugging Face repository id grammar: where a model id enters the planner, it must be one.

Model ids end up in shell scripts, YAML manifests, Modelfiles and PDFs; the grammar keeps every one of
them a single plain token. Hugging Face allows `org/name`, each part of letters, digits, `-`, `_` and
`.`, at most 96 characters, not starting or ending in `-` or `.`, with no `--` or `..`
(huggingface_hub's `validate_repo_id`: github.com/huggingface/huggingface_hub, src/huggingface_hub/utils/_validators.py).
"""

from __future__ import annotations

import re

REPO_ID_RULE = ("a Hugging Face repo id: org/name, each part of letters, digits, '-', '_' and '.', "
                "at most 96 characters, not starting or ending with '-' or '.'")

_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
_REPO_ID = re.compile(rf"{_PART}/{_PART}")


def is_repo_id(value: object) -> bool:
    """True when `value` is `org/name` by the Hub's grammar (no `--` or `..` either)."""
    return (isinstance(value, str) and _REPO_ID.fullmatch(value) is not None
            and "--" not in value and ".." not in value)
