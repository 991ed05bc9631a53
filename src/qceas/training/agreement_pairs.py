"""Where a led round's QDBA pairs come from, and the Z error they carry.

QDBA (``qceas.training.leadership``) needs, per round, ``m = b·(M + test)`` |Ψ+⟩
pairs between the leader and every other player, each measured in Z. What enters the
protocol is each link's Z error ε (``qceas.agreement.noise``: ε = 2(1 − F)/3 for a
Werner pair of fidelity F).

* :class:`FixedAgreementPairs` (``leader.pairs: fixed``): every link's pairs have
  ``leader.fidelity``, and there are always enough.
* :class:`NetworkAgreementPairs` (``leader.pairs: network``): a network simulation of
  the ``network`` section (``qceas.network.Simulation``, its own random stream) under
  the strategy's scheduler, with pairs of use ``agreement`` (measured in Z on
  arrival, ``qceas.network._uses.AgreementUse``) and one demand round of
  ``leader.round_period_s`` per training round.

Time model of the network supply (what is and is not modelled):

* the agreement's lists do not depend on the proposal, so its pairs can be generated
  throughout the round, before the proposal exists: the demand window is the whole
  round period (ready at 0, deadline at its end), and a pair is measured in Z when
  both ends hold it (on arrival, or later if the scheduler stored it first; its
  fidelity then is the one the simulator tracks under the memories' decay). Once
  measured, the outcome is a classical bit and does not decay;
* the classical messages of the protocol (round 1 from the commander, rounds 2 and 3
  among the lieutenants) follow the round's pair generation; on a star of links of L
  km they take about 3 one-way fibre delays, 3·L/(2·10⁸ m/s) (50 µs each at 10 km,
  ``qceas.physics.FIBRE_LIGHT_SPEED``; twice that through the hub with QPU leaders),
  against a 20 ms round: not simulated, stated;
* heralding delays: a fresh pair has its fidelity at herald time, unless
  ``network.signal_delays`` is set (then it has decayed over the herald's round trip,
  ``qceas.network.context``).

Who holds the pairs. With ``leader.mode: aggregator`` the commander is the network's
hub and every QPU's flow to the hub is its link with the commander: QPU j uses the
first m pairs it consumed in the round. With QPU leaders (``fixed``, ``rotate``) the
leader ℓ and lieutenant j share a pair made by swapping, at the hub, a pair of ℓ's
flow with one of j's (Werner parameters multiply: w = w_ℓ·w_j; Bennett et al., PRA
54, 3824 (1996)); the leader's pairs are dealt out in lieutenant order, m to each, so
every QPU's demand is ``m·(n − 1)`` per round (any QPU may lead); the hub's wait
between the two heralds is not modelled (the swap pairs pairs consumed in the same
round). A lieutenant with fewer than m pairs cannot check the commander: it runs the
protocol with uncorrelated lists (ε = ½) and so decides ⊥ unless others' evidence
carries it (the protocol's round 2). The ε of a lieutenant with enough pairs is the
mean Z error of the m pairs it uses: the protocol draws its errors i.i.d. at that
mean, whose count has the same mean and a variance no smaller than the true
(Poisson-binomial) count's, so the model is conservative for the honest failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from qceas._rules import ConfigError, under
from qceas.agreement.protocol import source_test_pairs
from qceas.network import Simulation
from qceas.network.context import make_context
from qceas.network.demand import Demand
from qceas.network.interface import Context
from qceas.network.setup import network_of
from qceas.physics import werner_parameter_unchecked
from qceas.scheduling import SCHEDULERS
from qceas.streams import CONSENSUS, run_stream
from qceas.training.config import RunConfig
from qceas.training.key_supply import key_scheduler
from qceas.training.leadership import Leadership
from qceas.training.scenario import Scenario
from qceas.training.strategies import Strategy

#: Sub-stream of the agreement network under the run's CONSENSUS stream.
NETWORK_STREAM = 1


@dataclass(frozen=True)
class LinkErrors:
    """One round's pairs for the agreement.

    Attributes:
        eps: (n,) Z error of each player's pairs with the leader (½ where it has too
            few pairs; the leader's own entry is 0).
        fidelity: mean fidelity of the pairs the protocol used (NaN: none).
        pairs: Bell pairs consumed for the agreement this round (all links).
        short: players other than the leader with too few pairs.
    """

    eps: NDArray[np.float64]
    fidelity: float
    pairs: int
    short: int


class AgreementPairs(Protocol):
    """The pairs of each round's agreement."""

    def errors(self, leader: int) -> LinkErrors:
        """The next round's pairs, with ``leader`` as the commander."""
        ...


class FixedAgreementPairs:
    """Every link's pairs at one fidelity, always enough (module docstring)."""

    def __init__(self, fidelity: float, players: int, pairs: int) -> None:
        self.fidelity = fidelity
        self.players = players
        self.pairs = pairs

    def errors(self, leader: int) -> LinkErrors:
        eps = np.full(self.players, 2.0 * (1.0 - self.fidelity) / 3.0)
        eps[leader] = 0.0
        return LinkErrors(eps, self.fidelity, self.pairs, 0)


class NetworkAgreementPairs:
    """The pairs a network simulation delivers for agreement (module docstring).

    Args:
        simulation: the agreement network, one demand round per training round.
        per_link: m, pairs per leader–player link of one agreement.
        aggregator_leads: the commander is the hub (else a QPU, via a swap at the hub).
    """

    def __init__(self, simulation: Simulation, per_link: int, aggregator_leads: bool) -> None:
        self.simulation = simulation
        self.per_link = per_link
        self.aggregator_leads = aggregator_leads

    def errors(self, leader: int) -> LinkErrors:
        supplied = self.simulation.run_round().fidelities
        m = self.per_link
        qpus = len(supplied)
        consumed = int(sum(f.size for f in supplied))
        if self.aggregator_leads:
            w = [werner_parameter_unchecked(f[:m]) if f.size >= m else None for f in supplied]
            eps = np.array([0.5 if x is None else float(np.mean((1 - x) / 2)) for x in w])
            eps = np.append(eps, 0.0)
            used = [x for x in w if x is not None]
        else:
            own = werner_parameter_unchecked(supplied[leader])
            eps = np.zeros(qpus)
            used = []
            for r, j in enumerate(k for k in range(qpus) if k != leader):
                mine, theirs = own[r * m : (r + 1) * m], supplied[j][:m]
                if mine.size < m or theirs.size < m:
                    eps[j] = 0.5
                    continue
                x = mine * werner_parameter_unchecked(theirs)
                eps[j] = float(np.mean((1 - x) / 2))
                used.append(x)
        short = int(np.sum(eps == 0.5))
        fidelity = float(np.mean(np.concatenate(used) * 0.75 + 0.25)) if used else float("nan")
        return LinkErrors(eps, fidelity, consumed, short)


def per_link_pairs(config: RunConfig) -> int:
    """m = b·(M + test): pairs per leader–player link of one agreement."""
    spec = config.leader
    return spec.digest_bits * (spec.tuples + source_test_pairs(spec.tuples, spec.source_test))


def agreement_context(config: RunConfig, seed: int) -> Context:
    """The agreement network's context (``leader.pairs: network``): the ``network``
    section, m pairs per QPU per round (m·(n − 1) with QPU leaders), the whole round
    as window; an impossible setting is a ConfigError naming the ``leader`` field."""
    spec = config.leader
    qpus = config.nodes.count
    players = spec.players(qpus)
    need = per_link_pairs(config) * (1 if spec.mode == "aggregator" else players - 1)
    try:
        network = network_of(config.network, qpus, seed)
        demand = Demand(
            pairs=need,
            period_s=spec.round_period_s,
            rounds=max(1, config.training.rounds),
            ready_s=np.zeros(qpus),
            window_s=spec.round_period_s,
        )
        return make_context(network, demand, slot_s=spec.slot_s, use="agreement")
    except ValueError as exc:
        # The demand is built from the leader section: name its fields.
        message = str(exc).replace("demand.period_s", "round_period_s")
        raise under("leader", ValueError(message)) from None


def agreement_pairs_of(
    scenario: Scenario, strategy_name: str, strategy: Strategy, leadership: Leadership
) -> AgreementPairs:
    """The QDBA pair supply of a run (``leader.pairs``)."""
    cfg = scenario.config
    spec = cfg.leader
    if spec.pairs == "fixed":
        return FixedAgreementPairs(
            spec.fidelity, leadership.n_nodes, leadership.pairs_per_agreement
        )
    context = agreement_context(cfg, scenario.seed)
    scheduler = key_scheduler(strategy, cfg)
    policy = SCHEDULERS.get(scheduler, **dict(cfg.schedule.params.get(scheduler, {})))
    rng = run_stream(scenario.seed, strategy_name, CONSENSUS, NETWORK_STREAM)
    try:
        simulation = Simulation(context, policy, rng=rng)
    except ValueError as exc:
        raise ConfigError(f"schedule.params.{scheduler}: {exc}") from None
    return NetworkAgreementPairs(simulation, per_link_pairs(cfg), leadership.aggregator_leads)


__all__ = [
    "AgreementPairs",
    "FixedAgreementPairs",
    "LinkErrors",
    "NetworkAgreementPairs",
    "agreement_context",
    "agreement_pairs_of",
    "per_link_pairs",
]
