"""Build the static :class:`~qceas.network.interface.Context` of a simulation, checked.

:func:`make_context` checks the network, the demand and the slot against each other
and precomputes what every slot reads: per link, the mean attempts per slot
``k_e = Δ/period_e`` and the chance of a herald in a slot of continuous attempts,
``1 − (1 − p_e)^k_e`` (computed as ``−expm1(k·log1p(−p))``); per segment of a route,
its link, the decay rate Γ = 1/T_a + 1/T_b of the link's end memories and the Werner
parameter ``w0 = (4F0 − 1)/3`` of a fresh pair; per flow, the end-to-end decay rate
Γ_k = 1/T_k + 1/T_N and ``∏ w0`` of its route (ARCHITECTURE §4).

Errors are ValueErrors that name this function's arguments (``slot_s = …``, or
``demand.period_s`` and ``network.memory_slots`` for a field of one); a caller that
built the arguments from a config section prefixes its section
(:func:`qceas.network.setup.context_of`).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from qceas._rules import is_real
from qceas.network._uses import USES
from qceas.network.demand import Demand, as_importance
from qceas.network.interface import PAIR_USES, PURIFICATIONS, Context, FloatArray, IntArray
from qceas.network.topology import Network
from qceas.physics import FIBRE_LIGHT_SPEED, werner_parameter_unchecked

#: Relative tolerance of the slot arithmetic: a slot "fits" a whole number of attempt
#: periods or slots a round period despite the rounding of k·period.
EPS = 1e-9


def make_context(
    network: Network,
    demand: Demand,
    *,
    slot_s: float | None = None,
    importance: ArrayLike | None = None,
    sift: float = 0.5,
    purification: str = "none",
    use: str = "key",
) -> Context:
    """Check and precompute the static context of a simulation.

    Args:
        network: the network (QPUs 0..N−1, aggregator N).
        demand: the demand; ``demand.n_nodes`` must equal N.
        slot_s: Δ (s), at least the longest attempt period of any link (every link
            completes an attempt in every slot it attempts) and dividing the round
            period into a whole number of slots. None: the longest slot that divides
            the round period into as many slots as fit the longest attempt period,
            ``period / floor(period / longest)``.
        importance: (N,) non-negative weights, uniform when None.
        sift: s in (0, 1].
        purification: one of :data:`PURIFICATIONS`.
        use: one of :data:`PAIR_USES` (see :class:`Context`).
    """
    if use not in PAIR_USES:
        raise ValueError(f"use = {use!r}: must be one of {', '.join(PAIR_USES)}")
    n = network.n_nodes
    if demand.n_nodes != n:
        raise ValueError(f"demand: has ready times for {demand.n_nodes} QPUs; the network has {n}")
    longest = float(network.attempt_period_s.max())
    period = demand.period_s
    if longest > period:
        raise ValueError(
            f"demand.period_s = {period:g}: must be >= the longest attempt period "
            f"{longest:g} s of the network"
        )
    if slot_s is None:
        slot_s = period / math.floor(period / longest * (1 + EPS))
    if not (is_real(slot_s) and math.isfinite(slot_s) and slot_s > 0):
        raise ValueError(f"slot_s = {slot_s!r}: must be a finite number > 0")
    slot_s = float(slot_s)
    if slot_s < longest * (1 - EPS):
        raise ValueError(
            f"slot_s = {slot_s:g}: must be >= the longest attempt period "
            f"{longest:g} s (every link attempts at least once per slot)"
        )
    ratio = period / slot_s
    if abs(ratio - round(ratio)) > 1e-6 * ratio:
        raise ValueError(
            f"slot_s = {slot_s:g}: must divide the round period {period:g} s into "
            f"a whole number of slots (it gives {ratio:.4g}); try {period / math.floor(ratio):g}"
        )
    if not (is_real(sift) and 0 < sift <= 1):
        raise ValueError(f"sift = {sift!r}: must be in (0, 1]")
    _check_relay_memory(network)
    if purification not in PURIFICATIONS:
        raise ValueError(
            f"purification = {purification!r}: must be one of {', '.join(PURIFICATIONS)}"
        )
    round_slots, ready, deadline = demand.slots(slot_s)
    k = slot_s / network.attempt_period_s
    p = network.success_probability
    success = -np.expm1(k * np.log1p(-np.minimum(p, 1 - 1e-16)))
    success = np.where(p >= 1.0, 1.0, success)

    rate_node = 1.0 / network.coherence_time_s
    flows = [np.full(len(r), i, dtype=np.int64) for i, r in enumerate(network.routes)]
    seg_flow = np.concatenate(flows)
    seg_link = np.concatenate(network.routes).astype(np.int64)
    seg_start = np.concatenate([[0], np.cumsum([len(r) for r in network.routes])]).astype(np.int64)
    ends = network.endpoints[seg_link]
    seg_rate = rate_node[ends[:, 0]] + rate_node[ends[:, 1]]
    seg_w0 = werner_parameter_unchecked(network.initial_fidelity[seg_link])
    flow_rate = rate_node[:n] + rate_node[n]
    flow_signal = np.ones(n)
    if network.signal_delays:
        seg_w0, flow_signal = _signal_decay(
            network, seg_w0, seg_link, seg_start, seg_rate, flow_rate
        )
    flow_w0 = np.multiply.reduceat(seg_w0, seg_start[:-1]) * flow_signal
    return Context(
        network=network,
        demand=demand,
        slot_s=float(slot_s),
        attempts_per_slot=k,
        slot_success=success,
        round_slots=round_slots,
        ready_slot=ready,
        deadline_slot=deadline,
        total_slots=demand.rounds * round_slots,
        segment_flow=seg_flow,
        segment_link=seg_link,
        segment_start=seg_start,
        segment_rate=seg_rate,
        segment_w0=seg_w0,
        flow_rate=flow_rate,
        flow_w0=flow_w0,
        flow_signal=flow_signal,
        storage=int(network.memory_slots[:n].max()),
        importance=as_importance(importance, n),
        sift=float(sift),
        purification=purification,
        pair_use=USES[use],
    )


def _signal_decay(
    network: Network,
    seg_w0: FloatArray,
    seg_link: IntArray,
    seg_start: IntArray,
    seg_rate: FloatArray,
    flow_rate: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Decay while classical signals travel (``Network.signal_delays``).

    A link's pair is emitted one attempt period τ = L/c before its herald reaches both
    ends (the attempt period is the signal's round trip, :func:`qceas.physics.attempt_period`),
    and both memories hold it meanwhile: its Werner parameter at herald time is
    ``w0·e^{−(Γ_a + Γ_b)·τ}`` (the depolarizing decay of ``qceas.physics.decay``).
    A route's swaps are Bell measurements at its relays, whose outcomes must reach
    both end nodes before the end-to-end pair is usable; the last to arrive comes from
    the relay farthest from an end, ``t = (L_route − min(L_first, L_last))/c`` (0 for
    one link), and the end qubits decay meanwhile at the flow's Γ_k = 1/T_k + 1/T_N
    (the relays' qubits are measured): a factor ``e^{−Γ_k·t}`` per flow. The pair is
    still usable in the slot of its last herald: its availability is not delayed,
    only its fidelity (a slot is about one attempt period).
    Source: fibre at 2·10⁸ m/s (``qceas.physics.FIBRE_LIGHT_SPEED``); the timing of
    heralded generation and swap signalling as in Iñesta et al., npj Quantum Inf. 9,
    46 (2023), and Coopmans et al., Commun. Phys. 4, 164 (2021).
    """
    herald = seg_w0 * np.exp(-seg_rate * network.attempt_period_s[seg_link])
    lengths = network.length_km[seg_link]
    route_km = np.add.reduceat(lengths, seg_start[:-1])
    first, last = lengths[seg_start[:-1]], lengths[seg_start[1:] - 1]
    hops = np.diff(seg_start)
    signal_s = np.where(hops > 1, (route_km - np.minimum(first, last)) * 1e3, 0.0) / (
        FIBRE_LIGHT_SPEED
    )
    return herald, np.exp(-flow_rate * signal_s)


def _check_relay_memory(network: Network) -> None:
    """A node that relays a route holds one qubit for each of its two links' pairs at
    once before the swap: with one memory qubit no pair through it can ever be made."""
    for k, nodes in enumerate(network.route_nodes):
        for relay in nodes[1:-1].tolist():
            if network.memory_slots[relay] < 2:
                raise ValueError(
                    f"network.memory_slots = {int(network.memory_slots[relay])} (node {relay}): "
                    f"must be >= 2 at a node that relays a route (QPU {k}'s route passes "
                    "through it)"
                )
