"""User text on screen as plain text: never Markdown, never HTML.

Streamlit renders Markdown (links, images, `:red[...]` colours, `:material/...:` icons, LaTeX
between dollars) in titles, captions, alerts and button labels. A plan name from a link or a
model name from an uploaded config.json goes through `plain` first, which backslash-escapes every
ASCII punctuation character (CommonMark: any ASCII punctuation may be escaped) so it shows as typed.
"""

from __future__ import annotations

import re

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


# GitHub-flavoured Markdown links bare URLs and e-mail addresses even when escaped; a zero-width
# space after '://', 'www.' and '@' stops that without changing what the reader sees.
_AUTOLINK = re.compile(r"(://|www\.|@)", re.IGNORECASE)


def plain(text: object) -> str:
    """`text` escaped so Markdown shows it literally; line breaks become spaces."""
    unlinked = _AUTOLINK.sub("\\1\u200b", " ".join(str(text).split()))
    return _PUNCTUATION.sub(r"\\\1", unlinked)
