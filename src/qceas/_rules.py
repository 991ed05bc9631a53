"""The field rules every config section checks its values with, and ``ConfigError``.

Ground floor (imports nothing of qceas but the registry): each package's config
section (``qceas.qnn.config``, ``qceas.network.config``, ...) validates its fields in
``__post_init__`` with these rules, so a rule is written once and every message has
one shape, ``path = value: rule`` (e.g. ``noise.depolarizing[3] = 1.4: must be in
[0, 1]``). The section passes the YAML path it knows; library code below the
sections raises ``ValueError`` naming its own arguments, and the section that called
it adds the path.

Bounds: the fields with no natural upper bound get one of the ``MAX_*`` constants,
far above any run anyone makes and below where a number breaks something (int64
counters, sums of floats, memory, hours of Python loops): a value past them is a
typo, and an error at once rather than an overflow deep inside a run.

Frozen values: a validated section holds no list and no dict. ``freeze`` turns lists
into tuples and mappings into :class:`FrozenMapping` (read-only and hashable), so a
config cannot change after its checks passed, and configs can be hashed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import fields
from typing import Any, TypeGuard

import numpy as np

from qceas.registry import Registry, UnknownOptionError

#: Upper bounds (module docstring).
MAX_COUNT = 10**6  # rounds, nodes, seeds, Sybils, memory slots, ...: loops run over them
MAX_SAMPLES = 10**9  # shots, samples, pairs per round: counts stay exact as floats (2^53)
MAX_LAYERS = 1000  # variational layers: the circuit is simulated gate by gate
MAX_SCALE = 1.0e6  # dimensionless factors (output scale, learning rate, alpha, tampering)
MAX_SECONDS = 1.0e6  # durations (about 12 days; coherence times already stop there)
MAX_KM = 40_075.0  # distances: the Earth's circumference
MAX_SEED = 2**63 - 1  # seeds are written to int64 table columns
MAX_EC_EFFICIENCY = 10.0  # error-correction inefficiency f: 1 is the Shannon limit


class ConfigError(ValueError):
    """A config value that breaks its rule; the message names field, value and rule."""


class FrozenMapping(Mapping[Any, Any]):
    """A read-only, hashable mapping: the mapping fields of a validated config.

    A config's checks pass once, when it is built; a mapping that could be changed
    afterwards (``cfg.data.params["x"] = 1``) would carry values no check has seen,
    and an unhashable field makes the whole config unhashable. Values are frozen too
    (lists become tuples, mappings FrozenMappings), so the hash is that of the items.
    Equal to a dict with the same items; pickles, copies and prints as one.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[Any, Any] | None = None) -> None:
        self._items: dict[Any, Any] = {k: freeze(v) for k, v in (items or {}).items()}

    def __getitem__(self, key: Any) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and self._items == dict(other.items())

    def __repr__(self) -> str:
        return repr(self._items)

    def __reduce__(self) -> tuple[type, tuple[dict[Any, Any]]]:
        return FrozenMapping, (self._items,)

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenMapping:
        return self  # immutable all the way down

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(
            "a validated config is read-only: build a changed one with "
            "qceas.config.from_dict(changes, base=config)"
        )

    __setitem__ = __delitem__ = update = pop = popitem = clear = setdefault = _refuse


def freeze(value: Any) -> Any:
    """``value`` with every list turned into a tuple and every mapping into a
    :class:`FrozenMapping`, recursively (what a validated config holds)."""
    if isinstance(value, FrozenMapping):
        return value
    if isinstance(value, Mapping):
        return FrozenMapping(value)
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def freeze_fields(section: Any) -> None:
    """Freeze every field of a (frozen) dataclass in place, before its checks run."""
    for f in fields(section):
        object.__setattr__(section, f.name, freeze(getattr(section, f.name)))


def plain(value: Any) -> Any:
    """Plain data (dicts, lists, numbers, strings) of a frozen value, for YAML and JSON."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def known(cls: type) -> list[str]:
    """The field names of a section class."""
    return [f.name for f in fields(cls)]


# ----------------------------------------------------------------------- messages
def show(value: Any) -> str:
    """A value as a message shows it: text quoted, floats short, sequences as lists."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float):
        return repr(value) if value.is_integer() else f"{value:g}"
    if isinstance(value, tuple):
        return show(list(value))
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return str(value)


def fail(path: str, value: Any, rule: str) -> ConfigError:
    """The error ``path = value: rule``."""
    return ConfigError(f"{path} = {show(value)}: {rule}")


def text_hint(value: Any) -> str:
    """YAML 1.1 reads ``1e-3`` (no dot) as text: say so when a number arrives as text."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return ""
        return f" (YAML read {value} as text; write it with a dot, e.g. 1.0e-3)"
    return ""


# -------------------------------------------------------------------------- rules
def is_int(value: Any) -> bool:
    """An integer, not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """An int or a float, not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_integer(value: object) -> TypeGuard[int | np.integer[Any]]:
    """An integer, Python's or numpy's, not a bool: what library functions accept
    where a caller may pass an array element (configs hold Python ints only)."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def is_real(value: object) -> TypeGuard[int | float | np.integer[Any] | np.floating[Any]]:
    """A real number, Python's or numpy's, not a bool (``np.bool_`` is neither)."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def integer(path: str, value: Any, minimum: int, maximum: int) -> None:
    """An integer in [minimum, maximum]."""
    if not is_int(value) or not minimum <= value <= maximum:
        raise fail(path, value, f"must be an integer in [{minimum}, {maximum}]")


def choice(path: str, value: Any, allowed: Sequence[str]) -> None:
    """One of ``allowed``."""
    if value not in allowed:
        raise fail(path, value, f"must be one of {', '.join(allowed)}")


def positive(path: str, value: Any, maximum: float) -> None:
    """A number in (0, maximum]."""
    if not is_number(value) or not 0 < value <= maximum:
        raise fail(path, value, f"must be a number in (0, {maximum:g}]" + text_hint(value))


def unit(path: str, value: Any) -> None:
    """A number in [0, 1] (a probability)."""
    if not is_number(value) or not 0.0 <= value <= 1.0:
        raise fail(path, value, "must be in [0, 1]")


def unit_or_per_qubit(path: str, value: Any) -> None:
    """A probability, or a list of them (one per qubit)."""
    if isinstance(value, list | tuple):
        for q, v in enumerate(value):
            unit(f"{path}[{q}]", v)
    else:
        unit(path, value)


def boolean(path: str, value: Any) -> None:
    """True or false."""
    if not isinstance(value, bool):
        raise fail(path, value, "must be true or false")


def mapping(path: str, value: Any, what: str = "a mapping") -> None:
    """A mapping (``what`` says of what, for the message)."""
    if not isinstance(value, Mapping):
        raise fail(path, value, f"must be {what}")


def attempt_floor(path: str, value: Any) -> None:
    """A minimum attempt period (s): a number in [0, 1)."""
    if not is_number(value) or not 0 <= value < 1:
        raise fail(path, value, "must be a number in [0, 1)")


def range_or_number(path: str, value: Any, low: float, high: float, *, open_low: bool) -> None:
    """A number, or a ``[low, high]`` range (drawn per item), inside (low|[low, high]."""
    items = list(value) if isinstance(value, list | tuple) else [value]
    if isinstance(value, list | tuple) and len(items) != 2:
        raise fail(path, value, "must be a number or a [low, high] range")
    bound = f"({low:g}, {high:g}]" if open_low else f"[{low:g}, {high:g}]"
    for item in items:
        if not is_number(item) or not math.isfinite(item):
            raise fail(path, value, "must be a number or a [low, high] range" + text_hint(item))
        if item > high or item < low or (open_low and item == low):
            raise fail(path, value, f"every value must be in {bound}")
    if len(items) == 2 and items[0] > items[1]:
        raise fail(path, value, "a range must have low <= high")


def check_options(
    path: str,
    registry: Registry[Any],
    name: str,
    options: Mapping[Any, Any],
    *,
    exclude: Collection[str] = (),
) -> None:
    """Every key of ``options`` is a parameter that the plugin ``name`` of
    ``registry`` takes (``exclude``: the arguments its caller gives it itself)."""
    try:
        registry.check_options(name, options, exclude=exclude)
    except UnknownOptionError as exc:
        raise ConfigError(f"{path}.{exc}") from None


#: A message that starts with an argument's name: ``name = ...``, ``name has shape`` or
#: ``name (detail)`` (a message that starts ``word:`` names a thing, not an argument).
_ARGUMENT_MESSAGE = re.compile(r"^[A-Za-z_][\w\[\]]*( =| has shape| \()")


def under(section: str, exc: Exception) -> ConfigError:
    """A library's ``ValueError`` under the config ``section`` that set its arguments:
    ``argument = value: rule`` becomes ``section.argument = value: rule`` (the YAML
    path, when the argument is named as the section's field), any other message
    ``section: message``."""
    if isinstance(exc, ConfigError):
        return exc
    message = str(exc)
    if message.startswith((f"{section}:", f"{section}.")):  # already says where
        return ConfigError(message)
    if _ARGUMENT_MESSAGE.match(message):
        return ConfigError(f"{section}.{message}")
    return ConfigError(f"{section}: {message}")


# -------------------------------------------------------------- field values
def log_uniform(value: Any, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` values of a field that is a number (all equal) or a ``[low, high]``
    range (drawn log-uniformly from ``rng``)."""
    if isinstance(value, list | tuple):
        low, high = (math.log(float(v)) for v in value)
        return np.exp(rng.uniform(low, high, size=size))
    return np.full(size, float(value))


def range_spec(value: Any) -> Any:
    """A number-or-range field as the builders take it: a range becomes a tuple."""
    return tuple(value) if isinstance(value, list | tuple) else value
