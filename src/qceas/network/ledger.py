"""The ledger of a network simulation: every Bell pair, where it came from and its fate.

Two tables, both columnar numpy arrays:

* **link pairs**, one row per heralded pair on a fibre link (what the hardware
  produced): link, flow (the QPU whose route it serves), herald time, initial
  fidelity, the end-to-end pair it was swapped into, and its fate;
* **end-to-end pairs**, one row per pair between a QPU and the aggregator, made by
  swapping the link pairs of a route (a one-link route makes one from one link pair)
  or by a successful purification: creation time and fidelity, fate, the time and
  fidelity at the fate, key bits if consumed, and for a pair that went into a
  purification the pair it produced.

The fate of a link pair that was swapped is the fate of the end-to-end pair it
became, followed through purifications (:meth:`Ledger.link_fates`). Utilization
(ARCHITECTURE §4) is then the share of heralded link pairs whose end-to-end pair was
consumed for a purpose.

Fates (:data:`FATES`):

* ``consumed``: consumed for its purpose (key, witness, gate, agreement) and served it;
* ``aborted``: consumed for key above the QBER threshold, so the distillation
  aborted and no key came of it (waste: the pair was too old or too noisy);
* ``expired``: discarded when it could no longer serve (zero key bits left);
* ``discarded``: discarded while still useful (evicted by the scheduler);
* ``purification_failed``: lost in a failed purification round;
* ``unused``: still stored when the simulation ended;
* ``swapped`` / ``purified`` (intermediate): the pair lives on in another pair, whose
  fate it shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray: TypeAlias = NDArray[np.float64]
IntArray: TypeAlias = NDArray[np.int64]

FATES: tuple[str, ...] = (
    "pending",
    "consumed",
    "aborted",
    "expired",
    "discarded",
    "purification_failed",
    "unused",
    "swapped",
    "purified",
)
#: Fate codes by name (``FATE["consumed"] == 1``).
FATE: dict[str, int] = {name: i for i, name in enumerate(FATES)}
#: Final fates that count against utilization, in report order.
WASTE: tuple[str, ...] = ("aborted", "expired", "discarded", "purification_failed", "unused")

PURPOSES: tuple[str, ...] = ("none", "key", "witness", "gate", "agreement")
#: Purpose codes by name.
PURPOSE: dict[str, int] = {name: i for i, name in enumerate(PURPOSES)}


class _Table:
    """Columns of one kind of record, grown by doubling (amortized O(1) appends)."""

    def __init__(self, columns: dict[str, tuple[type, float]]) -> None:
        self._spec = columns
        self._size = 0
        self._cols: dict[str, NDArray[np.generic]] = {
            name: np.full(64, fill, dtype=dtype) for name, (dtype, fill) in columns.items()
        }

    def __len__(self) -> int:
        return self._size

    def append(self, count: int, **values: NDArray[np.generic]) -> IntArray:
        """Add ``count`` rows; returns their ids. Unnamed columns keep their fill value."""
        start = self._size
        need = start + count
        capacity = len(next(iter(self._cols.values())))
        if need > capacity:
            grown = max(need, 2 * capacity)
            for name, (dtype, fill) in self._spec.items():
                col: NDArray[np.generic] = np.full(grown, fill, dtype=dtype)
                col[:start] = self._cols[name][:start]
                self._cols[name] = col
        for name, value in values.items():
            self._cols[name][start:need] = value
        self._size = need
        return np.arange(start, need, dtype=np.int64)

    def set(self, ids: IntArray, **values: ArrayLike) -> None:
        for name, value in values.items():
            self._cols[name][ids] = value

    def column(self, name: str) -> NDArray[np.generic]:
        return self._cols[name][: self._size]

    def frozen(self) -> dict[str, NDArray[np.generic]]:
        out = {name: col[: self._size].copy() for name, col in self._cols.items()}
        for col in out.values():
            col.setflags(write=False)
        return out


def _link_table() -> _Table:
    return _Table(
        {
            "link": (np.int64, -1),
            "flow": (np.int64, -1),
            "herald_s": (np.float64, np.nan),
            "fidelity": (np.float64, np.nan),
            "e2e": (np.int64, -1),
            "fate": (np.int8, 0),
            "fate_s": (np.float64, np.nan),
            "fate_fidelity": (np.float64, np.nan),
        }
    )


def _e2e_table() -> _Table:
    return _Table(
        {
            "flow": (np.int64, -1),
            "created_s": (np.float64, np.nan),
            "fidelity": (np.float64, np.nan),
            "fate": (np.int8, 0),
            "fate_s": (np.float64, np.nan),
            "fate_fidelity": (np.float64, np.nan),
            "purpose": (np.int8, 0),
            "key_bits": (np.float64, 0.0),
            "round": (np.int64, -1),
            "child": (np.int64, -1),
        }
    )


class LedgerWriter:
    """What the simulator writes into while it runs; :meth:`freeze` gives the Ledger."""

    def __init__(self) -> None:
        self.links = _link_table()
        self.e2e = _e2e_table()

    def freeze(self) -> Ledger:
        return Ledger(links=self.links.frozen(), e2e=self.e2e.frozen())


@dataclass(frozen=True)
class Ledger:
    """Every pair of one simulation (read-only columns; see the module docstring).

    Attributes:
        links: columns ``link, flow, herald_s, fidelity, e2e, fate, fate_s,
            fate_fidelity`` of the heralded link pairs. For a swapped pair ``fate`` is
            ``swapped``, ``fate_s`` the swap time and ``fate_fidelity`` its fidelity
            just before the swap.
        e2e: columns ``flow, created_s, fidelity, fate, fate_s, fate_fidelity,
            purpose, key_bits, round, child`` of the end-to-end pairs; ``round`` is the
            demand round a consumption counted for, ``child`` the output of the
            purification a ``purified`` pair went into.
    """

    links: dict[str, NDArray[np.generic]]
    e2e: dict[str, NDArray[np.generic]]

    @property
    def heralded(self) -> int:
        """Number of link pairs heralded."""
        return len(self.links["link"])

    def e2e_final(self) -> IntArray:
        """(P,) for every end-to-end pair, the pair whose fate decides its own: itself,
        or the last output of the purifications it went into."""
        child = self.e2e["child"].astype(np.int64)
        final = np.arange(len(child), dtype=np.int64)
        # Purification outputs are created after their inputs, so each step moves to
        # a larger id; at most log2(P) chains deep in practice, P at worst.
        while True:
            nxt = np.where(child[final] >= 0, child[final], final)
            if np.array_equal(nxt, final):
                return final
            final = nxt

    def e2e_fates(self) -> NDArray[np.int8]:
        """(P,) final fate code of each end-to-end pair (through purifications)."""
        return np.asarray(self.e2e["fate"][self.e2e_final()], dtype=np.int8)

    def link_fates(self) -> NDArray[np.int8]:
        """(L,) final fate code of each link pair (through swaps and purifications)."""
        fate = np.asarray(self.links["fate"], dtype=np.int8).copy()
        e2e = np.asarray(self.links["e2e"], dtype=np.int64)
        swapped = e2e >= 0
        fate[swapped] = self.e2e_fates()[e2e[swapped]]
        return fate
