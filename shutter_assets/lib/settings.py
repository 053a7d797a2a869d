"""Reading settings from the environment: the one loader every settings object goes through.

A settings object is a frozen dataclass of one feature (``PostgresSettings``, ``DropSettings``,
``MachineLogsSettings``, ``AlertSettings``, ``ApiSettings``...). Each field's default is written
once, in the dataclass; ``setting("VAR", default)`` names the variable it is read from (or
``from_env(cls, prefix="ALERT_")`` derives ``ALERT_<FIELD>``). ``from_env`` is the only place
the environment is read; the Dagster resources, the REST API, the command-line tools and the
tests build their objects from these classes (docs/deploy.md, "Settings").

Rules (docs/deploy.md):

- unset or empty keeps the default (``empty_is_value=True`` fields take an empty value as is);
- booleans: ``1``/``true``/``yes``/``on`` are true, ``0``/``false``/``no``/``off`` false (any
  case); integers and floats must parse and stay within the field's ``bounded`` range (NaN never
  does); tuples are comma-separated; a bad value raises ``SettingsError`` naming the variable;
- a secret (``secret=True``) may instead be given as ``<VAR>_FILE``, the path of a file holding
  it (the Docker secrets convention): the file's content, trailing newlines stripped. Both set
  (non-empty) is an error, as is a file that cannot be read. Secrets never appear in ``repr``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, field, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar

T = TypeVar("T")
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


class SettingsError(ValueError):
    """A variable holds a value its setting cannot take; the message names the variable."""


class FromEnv:
    """Base of a settings dataclass: ``Cls.from_env(environ=None)`` reads it (``ENV_PREFIX``
    names the fields that carry no ``setting`` variable: ``<ENV_PREFIX><FIELD>``)."""

    ENV_PREFIX: ClassVar[str] = ""

    @classmethod
    def from_env(cls: type[T], environ: Mapping[str, str] | None = None) -> T:
        """Raises ``SettingsError`` naming the variable of a bad value."""
        return from_env(cls, environ, prefix=cls.ENV_PREFIX)  # type: ignore[attr-defined]


def setting(
    var: str,
    default: Any = MISSING,
    *,
    secret: bool = False,
    empty_is_value: bool = False,
    parse: Callable[[str], Any] | None = None,
    default_factory: Callable[[], Any] | Any = MISSING,
) -> Any:
    """A dataclass field read from ``var``; ``parse`` turns the text into the value when the
    default's type does not say how (bool, int, float, tuple of str, str)."""
    metadata = {"env": var, "secret": secret, "empty_is_value": empty_is_value, "parse": parse}
    if default_factory is not MISSING:
        return field(default_factory=default_factory, repr=not secret, metadata=metadata)
    return field(default=default, repr=not secret, metadata=metadata)


def bounded(default: float, lo: float | None = None, hi: float | None = None) -> Any:
    """A number field of a ``prefix``-named settings class whose environment value must lie in
    ``[lo, hi]`` (None: open): a zero batch size or fetch size, a negative overlap or a ratio
    over 1 is refused at load with the variable's name rather than failing a run later."""
    return field(default=default, metadata={"lo": lo, "hi": hi})


def secret(default: Any = "") -> Any:
    """A field of a ``prefix``-named settings class that may also come from ``<VAR>_FILE``."""
    return field(default=default, repr=False, metadata={"secret": True})


def read_variable(environ: Mapping[str, str], name: str, *, is_secret: bool = False) -> str | None:
    """The text of ``name`` (None when unset); for a secret, or the content of ``<name>_FILE``.

    Raises ``SettingsError`` when a secret is given both ways or its file cannot be read.
    """
    value = environ.get(name)
    path = environ.get(f"{name}_FILE") if is_secret else None
    if not path:
        return value
    if value:
        raise SettingsError(
            f"{name} and {name}_FILE are both set: give the secret one way only "
            f"(unset {name} to read it from {path})"
        )
    try:
        return Path(path).read_text("utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{name}_FILE={path!r} cannot be read: {exc}") from None


def from_env(
    cls: type[T],
    environ: Mapping[str, str] | None = None,
    *,
    prefix: str = "",
    skip: tuple[str, ...] = (),
) -> T:
    """An instance of the dataclass ``cls`` from ``environ`` (default ``os.environ``).

    A field is read from its ``setting`` variable, else (with ``prefix``) from
    ``<prefix><FIELD>``; fields with neither, and those named in ``skip``, keep their default.
    Raises ``SettingsError``.
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        name = variable(f, prefix)
        if name is None or not f.init or f.name in skip:
            continue
        raw = read_variable(env, name, is_secret=f.metadata.get("secret", False))
        if raw is None or (not raw.strip() and not f.metadata.get("empty_is_value")):
            continue
        try:
            values[f.name] = _in_bounds(f, _parse(f, raw))
        except ValueError as exc:
            shown = "(secret)" if f.metadata.get("secret") else repr(raw)
            raise SettingsError(f"{name}={shown} is not a valid value: {exc}") from None
    return cls(**values)


def to_env(obj: object, *, prefix: str = "", skip: tuple[str, ...] = ()) -> dict[str, str]:
    """The variables that ``from_env`` reads back as ``obj`` (for child processes and tests):
    booleans as ``1``/``0``, tuples comma-separated; fields with a ``parse`` are left out."""
    env: dict[str, str] = {}
    for f in fields(obj):  # type: ignore[arg-type]
        name = variable(f, prefix)
        if name is None or not f.init or f.name in skip or f.metadata.get("parse"):
            continue
        value = getattr(obj, f.name)
        if isinstance(value, bool):
            env[name] = "1" if value else "0"
        elif isinstance(value, tuple):
            env[name] = ",".join(value)
        else:
            env[name] = str(value)
    return env


def variable(f: Field, prefix: str = "") -> str | None:
    """The environment variable of field ``f`` (None: not read from the environment)."""
    return f.metadata.get("env") or (f"{prefix}{f.name.upper()}" if prefix else None)


def variables(cls: type, prefix: str = "", skip: tuple[str, ...] = ()) -> list[str]:
    """Every variable ``from_env(cls, prefix=prefix, skip=skip)`` reads (docs and tests keep
    .env.example complete); secrets are also read as ``<VAR>_FILE``."""
    return [
        name for f in fields(cls) if f.init and f.name not in skip and (name := variable(f, prefix))
    ]


def secret_variables(cls: type, prefix: str = "") -> list[str]:
    """The variables of ``cls`` that also accept ``<VAR>_FILE``."""
    return [name for f in fields(cls) if f.metadata.get("secret") and (name := variable(f, prefix))]


def _in_bounds(f: Field, value: Any) -> Any:
    lo, hi = f.metadata.get("lo"), f.metadata.get("hi")
    if lo is None and hi is None:
        return value
    if value != value or (lo is not None and value < lo) or (hi is not None and value > hi):
        allowed = f"{'-inf' if lo is None else lo} to {'inf' if hi is None else hi}"
        raise ValueError(f"outside {allowed}")
    return value


def _parse(f: Field, raw: str) -> Any:
    parse = f.metadata.get("parse")
    if parse is not None:
        return parse(raw)
    default = f.default
    if isinstance(default, bool):
        word = raw.strip().lower()
        if word not in TRUE_WORDS + FALSE_WORDS:
            raise ValueError(f"not one of {'/'.join(TRUE_WORDS + FALSE_WORDS)}")
        return word in TRUE_WORDS
    if isinstance(default, int):
        return int(raw.strip())
    if isinstance(default, float):
        return float(raw.strip())
    if isinstance(default, tuple):
        return tuple(p.strip() for p in raw.split(",") if p.strip())
    return raw
