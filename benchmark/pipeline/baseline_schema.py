"""The regression baseline file's schema, checked when it is read (pydantic, like the suites).

A tolerance (``benchmark.pipeline.regression`` says what each means) is a finite number >= 0, an object with
``abs`` and/or ``rel`` (each a finite number >= 0, no other keys), ``"exact"`` or null. ``true``, a
number written as a string, a negative number or NaN is refused in one line naming the file and the
pattern: each of them used to pass or fail every figure silently, or raise a TypeError.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
)

from cxr_kernel.errors import UserError

Amount = Annotated[StrictInt | StrictFloat, Field(ge=0, allow_inf_nan=False)]


class AbsRel(BaseModel):
    """``{"abs": a, "rel": r}``: a figure may move by ``max(a, r * |baseline|)``."""

    model_config = ConfigDict(extra="forbid")
    abs: Amount = 0.0
    rel: Amount = 0.0


Tolerance = Literal["exact"] | None | Amount | AbsRel
Figure = StrictInt | StrictFloat | StrictStr | None


class BaselineFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    suite: StrictStr | None = None
    tolerances: dict[str, Tolerance]
    figures: dict[str, Figure]
    measurement: dict[str, Any] | None = None


_TOLERANCES = TypeAdapter(dict[str, Tolerance])


def _first_problem(error: ValidationError, data) -> str:
    """One line: where in the input (``tolerances.'classification/*'.rel``) and the value found there.

    A union reports one error per alternative, each located under the alternative's tag; the one
    reaching deepest into the input names the offending key best.
    """
    best: tuple[list, object] = ([], data)
    for detail in error.errors():
        found, value = [], data
        for part in detail["loc"]:
            if isinstance(value, dict) and part in value:
                found.append(part)
                value = value[part]
        if len(found) > len(best[0]):
            best = (found, value)
    path, value = best
    where = ".".join(repr(part) if "/" in str(part) or part == "*" else str(part) for part in path)
    shown = json.dumps(value) if _plain(value) else type(value).__name__
    return f"{where or 'the file'} = {shown}"


def _plain(value) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


_FIX = 'a tolerance is a number >= 0, {"abs": a, "rel": r} (numbers >= 0), "exact" or null'


def validated_baseline(path: Path) -> dict:
    """The baseline JSON at ``path`` as stored, after checking it against ``BaselineFile``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"Baseline {path} is not valid JSON ({error}). Restore it from git.") from None
    if not isinstance(data, dict) or "figures" not in data:
        return data  # an older format without figures: the caller says so
    try:
        BaselineFile.model_validate(data)
    except ValidationError as error:
        raise UserError(f"Baseline {path}: {_first_problem(error, data)} is invalid; {_FIX}.") from None
    return data


def check_tolerances(tolerances: dict, source: str) -> dict:
    """``tolerances`` checked as a baseline's are; ``source`` names where they came from."""
    try:
        _TOLERANCES.validate_python(tolerances)
    except ValidationError as error:
        raise UserError(f"{source}: {_first_problem(error, tolerances)} is invalid; {_FIX}.") from None
    return tolerances
