"""What consumed pairs are for: the consume policy :func:`make_context` picks from ``use``.

The engine asks the policy of its context two things, and nothing else depends on
the use:

* :meth:`admit` — which of the consumptions a scheduler asked for go ahead this slot
  (stored pairs, and pairs consumed on arrival);
* :meth:`worth` — what each consumed pair yields: its key bits and whether it meets a
  unit of demand.

``key`` (:class:`KeyUse`): a pair is measured for key distillation (BBM92). It yields
κ(F) = s·r(e(F)) bits (:meth:`Context.key_bits`, ARCHITECTURE §4) and meets demand
only if κ > 0; a pair above the QBER threshold aborts. Every requested consumption
goes ahead, on arrival too.

``gate`` (:class:`GateUse`): a pair is spent on a teleported gate of one shot
(:mod:`qceas.partition.gate_pairs`). Every consumed pair meets a unit of demand
whatever its fidelity, with 0 key bits (its fidelity becomes the gate's error). A
shot needs all of its pairs in memory when it starts, so a flow spends its stored
pairs only when they cover its whole remaining demand, and nothing is used on
arrival.

``agreement`` (:class:`AgreementUse`): a pair is measured in Z on arrival for the
EPR-pair quantum Byzantine agreement (:mod:`qceas.agreement`; the outcomes are kept as
classical lists, so nothing waits in memory once both ends measured). Every requested
consumption goes ahead, on arrival too, as for key; every pair with correlation left
(F > 1/4, Werner parameter w > 0) meets a unit of demand, with 0 key bits: its Z error
ε = 2(1 − F)/3 = (1 − w)/2 is what the agreement's checks tolerate up to δ, so there is
no hard threshold per pair.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

from qceas.network.ledger import PURPOSE

if TYPE_CHECKING:
    from qceas.network.interface import BoolArray, Context, FloatArray, IntArray


class PairUse(Protocol):
    """A consume policy (:data:`USES`)."""

    #: The ``use`` it implements (:data:`qceas.network.interface.PAIR_USES`).
    name: str
    #: Ledger purpose code of its consumed pairs (:data:`qceas.network.ledger.PURPOSE`).
    purpose: int

    def admit(
        self, consume: BoolArray, on_herald: BoolArray, remaining: IntArray
    ) -> tuple[BoolArray, BoolArray]:
        """The stored pairs (N, M) consumed and the flows (N,) that consume on arrival,
        of those asked for, given each flow's remaining demand (N,)."""
        ...

    def worth(self, context: Context, fidelity: FloatArray) -> tuple[FloatArray, BoolArray]:
        """Key bits of each consumed pair of ``fidelity``, and which meet demand."""
        ...


class KeyUse:
    """Pairs measured for key: κ(F) bits, demand met by key-yielding pairs."""

    name = "key"
    purpose = PURPOSE["key"]

    def admit(
        self, consume: BoolArray, on_herald: BoolArray, remaining: IntArray
    ) -> tuple[BoolArray, BoolArray]:
        del remaining
        return consume, on_herald

    def worth(self, context: Context, fidelity: FloatArray) -> tuple[FloatArray, BoolArray]:
        bits = context.key_bits(fidelity)
        return bits, bits > 0


class GateUse:
    """Pairs spent on one shot's gates: all of a flow's demand at once, none on arrival,
    every pair meets demand with 0 key bits."""

    name = "gate"
    purpose = PURPOSE["gate"]

    def admit(
        self, consume: BoolArray, on_herald: BoolArray, remaining: IntArray
    ) -> tuple[BoolArray, BoolArray]:
        whole = consume.sum(axis=1) >= remaining
        return consume & whole[:, None], np.zeros_like(on_herald)

    def worth(self, context: Context, fidelity: FloatArray) -> tuple[FloatArray, BoolArray]:
        del context
        bits = np.zeros(np.shape(fidelity))
        return bits, np.ones(bits.shape, dtype=bool)


class AgreementUse(KeyUse):
    """Pairs measured in Z for agreement: every consumption, on arrival too, as for key
    (:meth:`KeyUse.admit`); demand met by every pair with w > 0, with 0 key bits."""

    name = "agreement"
    purpose = PURPOSE["agreement"]

    def worth(self, context: Context, fidelity: FloatArray) -> tuple[FloatArray, BoolArray]:
        del context
        f = np.asarray(fidelity, dtype=float)
        return np.zeros(f.shape), f > 0.25


#: The consume policy of each ``use``, in :data:`~qceas.network.interface.PAIR_USES` order.
USES: dict[str, PairUse] = {"key": KeyUse(), "gate": GateUse(), "agreement": AgreementUse()}
