"""Helpers shared by every frozen-dataclass config.

Each component and training phase has its own ``@dataclass(frozen=True)`` config. Configs are composed into
one experiment config, written as JSON beside weights and into every run directory, and rebuilt from that JSON
only (``Config.from_dict(json)``, as nanoGPT's ``GPTConfig(**model_args)``). Command-line overrides use dotted
keys (``--set vae.latent_dim=64``).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

from .errors import CmmnetError

C = TypeVar("C")


def to_dict(cfg: Any) -> dict[str, Any]:
    """A JSON-ready dict of a (nested) dataclass config."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if dataclasses.is_dataclass(v):
            v = to_dict(v)
        elif isinstance(v, tuple):
            v = list(v)
        out[f.name] = v
    return out


def _coerce(tp: Any, value: Any, where: str, defaulted: list[str]) -> Any:
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise CmmnetError(f"config {where}: expected a mapping, got {value!r}")
        return _from_dict(tp, value, where, defaulted)
    if origin is typing.Literal:
        if value not in get_args(tp):
            raise CmmnetError(f"config {where}: {value!r} is not one of {list(get_args(tp))}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(args[0], value, where, defaulted)
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, where, defaulted) for v in value)
        return tuple(_coerce(a, v, where, defaulted) for a, v in zip(args, value))
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if tp in (int, float, str, bool) and not isinstance(value, tp):
        raise CmmnetError(f"config {where}: expected {tp.__name__}, got {value!r}")
    return value


def _from_dict(cls: type[C], data: dict[str, Any], where: str, defaulted: list[str]) -> C:
    hints = get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = set(data) - set(names)
    if unknown:
        raise CmmnetError(f"config {where or cls.__name__}: unknown keys {sorted(unknown)}")
    defaulted += [f"{where}.{k}".lstrip(".") for k in names if k not in data]
    kwargs = {k: _coerce(hints[k], v, f"{where}.{k}".lstrip("."), defaulted) for k, v in data.items()}
    return cls(**kwargs)


def from_dict_defaulted(cls: type[C], data: dict[str, Any], where: str = "") -> tuple[C, tuple[str, ...]]:
    """:func:`from_dict`, also returning the dotted keys that ``data`` lacks and that took the dataclass default
    (e.g. ``("align", "vae.leaky_slope")``): a config written before a field existed loads, and says so."""
    defaulted: list[str] = []
    return _from_dict(cls, data, where, defaulted), tuple(defaulted)


def from_dict(cls: type[C], data: dict[str, Any], where: str = "") -> C:
    """Rebuild a dataclass config from a dict; unknown keys are an error (they mean another architecture); missing
    keys take the dataclass default (:func:`from_dict_defaulted` names them)."""
    return from_dict_defaulted(cls, data, where)[0]


def _parse_scalar(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def apply_overrides(cfg: C, overrides: list[str] | tuple[str, ...]) -> C:
    """Apply ``key.sub=value`` overrides (values parsed as JSON when possible) to a nested frozen config."""
    data = to_dict(cfg)
    for item in overrides:
        if "=" not in item:
            raise CmmnetError(f"--set {item!r}: expected key=value, e.g. --set vae.lr=0.0002")
        key, raw = item.split("=", 1)
        node = data
        parts = key.strip().split(".")
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                raise CmmnetError(f"--set {key}: no config section {p!r}")
            node = node[p]
        if parts[-1] not in node:
            raise CmmnetError(f"--set {key}: no such config field; known: {sorted(node)}")
        node[parts[-1]] = _parse_scalar(raw)
    return from_dict(type(cfg), data)


def save_json(data: Any, path: str | Path) -> None:
    """Write JSON atomically."""
    from .io import atomic_write_text

    atomic_write_text(Path(path), json.dumps(data, indent=2, sort_keys=False) + "\n")
