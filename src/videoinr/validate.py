"""The one way to build a typed config from a mapping: `from_mapping` checks every key against a dataclass's
fields (unknown keys, wrong types, out-of-range values) and builds it, for the model config, the training
config and the upscale options alike.

Every message has one wording, `<key path> <bad value>: <what is allowed>` (`invalid`), e.g.
``model config key 'nf' 0: must be an integer in 1..4096`` or ``--scale 'abc': not a number (...)``.
A field's own check is ``field(metadata={"check": fn})`` with ``fn(value, path) -> value`` (converted);
a field without one is checked and converted by its type hint (`coerce`). Standard library only.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from videoinr.errors import VideoINRError

__all__ = ["shown", "invalid", "require", "coerce", "from_mapping"]

T = TypeVar("T")


def shown(value: object) -> str:
    """`value` for an error message: its repr, cut to 40 characters (a pasted megabyte stays one short line)."""
    r = repr(value)
    return r if len(r) <= 40 else r[:30] + f"...({len(r)} chars)"


def invalid(path: str, value: object, allowed: str, *, raw: bool = False) -> VideoINRError:
    """The error for a bad value: `<path> <value>: <allowed>` (the value as `shown`, or as is with `raw`)."""
    return VideoINRError(f"{path} {value if raw else shown(value)}: {allowed}")


def require(ok: bool, path: str, value: object, allowed: str) -> None:
    """Raise `invalid(path, value, allowed)` unless `ok`."""
    if not ok:
        raise invalid(path, value, allowed)


def _hint_name(hint: object) -> str:
    return getattr(hint, "__name__", str(hint))


def coerce(path: str, value: object, hint: object) -> object:
    """`value` checked and converted to the type `hint` (bool, int, float, str, Optional, tuple, list,
    dict): bools are not numbers, whole floats are ints, YAML's '1e-4' text is a float; `None`/'null'/'~'
    where the hint allows None."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, getattr(types, "UnionType", None)):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "~")):
            if type(None) in args:
                return None
        inner = [a for a in args if a is not type(None)]
        return coerce(path, value, inner[0])
    bad = invalid(path, value, f"expected {_hint_name(hint)}")
    if hint in (int, float) and isinstance(value, str):  # YAML 1.1 reads 1e-4 (no dot) as a string
        try:
            value = float(value)
        except ValueError:
            raise bad from None
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise invalid(path, value, "expected true or false")
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or float(value) != int(value):
            raise bad
        return int(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        return float(value)
    if hint is str:
        if isinstance(value, (dict, list)) or value is None:
            raise bad
        return str(value)
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise invalid(path, value, f"expected a list of {len(args)} numbers")
        return tuple(coerce(path, v, a) for v, a in zip(value, args))
    if hint is dict or origin is dict:
        if not isinstance(value, dict):
            raise invalid(path, value, "expected a mapping")
        return dict(value)
    if hint is list or origin is list:
        if not isinstance(value, list):
            raise invalid(path, value, "expected a list")
        return list(value)
    raise bad


def from_mapping(cls: type[T], data: object, *, what: str, path: Callable[[str], str] | None = None,
                 whole: Callable[[dict[str, Any]], None] | None = None, where: str = "") -> T:
    """`cls(**checked)` from the mapping `data`: keys must be strings naming fields of the dataclass `cls`
    (missing ones keep their defaults); each value goes through its field's `check` (else `coerce` by
    its type hint); then `whole(checked)` checks combinations. `what` names the config in messages
    ("model config"), `path(key)` a key (default "<what> key '<key>'"); `where` is appended to the
    unknown-key message (e.g. " (in lite.yaml)"). VideoINRError on the first problem."""
    key_path = path or (lambda k: f"{what} key '{k}'")
    if not isinstance(data, Mapping):
        raise VideoINRError(f"{what}: expected a mapping of keys to values, got {type(data).__name__} {shown(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    bad_keys = [k for k in data if not isinstance(k, str)]
    if bad_keys:
        raise VideoINRError(f"{what} keys must be strings, got {shown(bad_keys[0])}")
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise VideoINRError(f"unknown {what} key(s): {', '.join(shown(k)[1:-1] for k in unknown[:10])}{where}; "
                            f"known keys: {', '.join(fields)}")
    hints = typing.get_type_hints(cls)
    out: dict[str, Any] = {}
    for k, v in data.items():
        check = fields[k].metadata.get("check")
        p = key_path(k)
        if check is None:
            out[k] = coerce(p, v, hints[k])
        elif v is None and _allows_none(hints[k]):
            out[k] = None
        else:
            out[k] = check(v, p)
    if whole is not None:
        whole(out)
    return cls(**out)


def _allows_none(hint: object) -> bool:
    return hint is type(None) or type(None) in typing.get_args(hint)
