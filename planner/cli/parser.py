"""The command line's argument parser: a bad argument is one line naming it and what is allowed
(`error: argument --gpus: must be at least 1, got '0'`), exit 2, as the README promises; argparse's own
error prints the whole usage block first. Text arguments that name a record (`id_text`) are printable
and at most 200 characters, so a message never echoes a megabyte or a terminal escape sequence.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from planner.errors import CONTROL_OR_SPACE, one_line, shown

MAX_ID_CHARS = 200


class OneLineParser(argparse.ArgumentParser):
    """argparse with one-line errors; its sub-parsers are of the same class (add_subparsers' default)."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("python -m planner").strip()
        where = f"{command}: " if command else ""
        sys.stderr.write(f"error: {where}{one_line(message)} (--help lists the arguments)\n")
        sys.exit(2)


def id_text(text: str) -> str:
    """An argparse type for an id or alias: printable text of at most MAX_ID_CHARS characters."""
    if len(text) > MAX_ID_CHARS:
        raise argparse.ArgumentTypeError(f"at most {MAX_ID_CHARS} characters, got {len(text):,} ({shown(text, 40)})")
    if bad := CONTROL_OR_SPACE.search(text):
        raise argparse.ArgumentTypeError(f"printable text only, got the control character U+{ord(bad.group()):04X} "
                                         f"in {shown(text, 40)}")
    return text


id_text.__name__ = "id"  # argparse names the type in "invalid id value"
