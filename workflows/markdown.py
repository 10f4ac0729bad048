"""Text shown in the Temporal UI's Markdown (current details): names and reasons that come from
input or from Nuki are escaped, so a crafted name cannot format, link or hide the details."""

from __future__ import annotations

import re

# What formats, links or hides text inside a line (the text never starts a line: it follows
# a label, "> " or "- ").
_MARKDOWN = re.compile(r"([\\`*_\[\]<>|~])")


def md(text: str) -> str:
    """``text`` shown as itself in Markdown."""
    return _MARKDOWN.sub(r"\\\1", text)
