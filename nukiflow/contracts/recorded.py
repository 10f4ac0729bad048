"""Models that Temporal records and that callers also build: lenient in history, strict at the edge.

During a rolling deploy an older worker decodes what a newer one wrote: a workflow input, an
update argument, an activity input or a continue-as-new input that carries a field the older
code does not know yet. Refusing it would fail the workflow task again and again (or fail a
change that was already accepted), so a payload decoded from history ignores unknown fields.

The same models are what callers build (the facade from a mapping of fields, the command line,
plan files, access grants), and there an unknown field is a mistake to report, not to drop: a
misspelt ``alowed_until_date`` would otherwise leave an auth without the restriction its owner
asked for. Built from Python values (the edge) they refuse unknown fields; rebuilt from a
payload (JSON, or a validation context that marks it stored, see
:func:`nukiflow.contracts.validation.is_stored`) they ignore them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from nukiflow.contracts.validation import is_stored


class RecordedModel(BaseModel):
    """Base of the models above: ``extra="ignore"`` for stored payloads, refused at the edge.

    Errors never quote the input (``hide_input_in_errors``): it may hold a keypad code.
    """

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)

    @model_validator(mode="before")
    @classmethod
    def _no_unknown_fields_at_the_edge(cls, data: Any, info: ValidationInfo) -> Any:
        if is_stored(info) or not isinstance(data, dict):
            return data
        unknown = sorted(str(key) for key in data if key not in _known_fields(cls))
        if unknown:
            # Named like pydantic's own refusal, so messages read the same as before; the
            # values are left out (they may be a keypad code).
            raise PydanticCustomError(
                "extra_forbidden",
                "{fields}: Extra inputs are not permitted",
                {"fields": ", ".join(unknown)},
            )
        return data


def _known_fields(model: type[BaseModel]) -> frozenset[str]:
    names = set(model.model_fields)
    names.update(f.alias for f in model.model_fields.values() if f.alias)
    return frozenset(names)
