"""Internal: process logging for the worker: plain or JSON lines, with secrets masked on the way
out.

Nothing in nukiflow logs a code or a token on purpose; the filter is the second line of defence
for what third-party code might print (an exception that quotes a request, say). It masks the
configured secrets and any stand-alone 6-digit number made of the digits 1-9 (a keypad code's
shape).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

MASK = "******"
_CODE_SHAPE = re.compile(r"(?<![\w.])[1-9]{6}(?![\w.])")

LogFormat = Literal["text", "json"]


class RedactingFilter(logging.Filter):
    """Replaces secrets in every record's final message (and drops its raw arguments)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return _CODE_SHAPE.sub(MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info:
            # Render the traceback now, redacted, instead of letting a formatter print it raw.
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, and the exception if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(
    fmt: LogFormat = "text",
    level: int = logging.INFO,
    secrets: Iterable[str] = (),
    *,
    text_format: str = TEXT_FORMAT,
) -> None:
    """Log to stderr in ``fmt`` (``text_format`` for text); every handler gets the redacting
    filter."""
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter(secrets))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(text_format))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO; keep the worker's log about the workflows.
    logging.getLogger("httpx").setLevel(logging.WARNING)
