"""The ``adversary`` config section: Byzantine nodes and network attackers."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qceas._rules import (
    MAX_COUNT,
    MAX_SCALE,
    ConfigError,
    FrozenMapping,
    check_options,
    choice,
    fail,
    freeze_fields,
    integer,
    is_number,
    positive,
    show,
    unit,
)
from qceas.attacks.updates import ATTACKS


@dataclass(frozen=True)
class AdversaryConfig:
    """Byzantine nodes and network attackers (``qceas.attacks``).

    What an attack needs of the node count (enough honest nodes to observe, the
    attack's own rules for f of n) is checked by :func:`check_feasible`, which the
    composite config calls with ``nodes.count``.
    """

    fraction: float = 0.0
    attack: str = "alie"
    params: Mapping[str, Any] = field(default_factory=FrozenMapping)
    qfi_inflation: float = 0.0
    sybils: int = 0
    tamper: float = 0.0
    tamper_scale: float = 1.0
    eavesdrop: float = 0.0

    def __post_init__(self) -> None:
        freeze_fields(self)
        if not is_number(self.fraction) or not 0 <= self.fraction < 1:
            raise fail("adversary.fraction", self.fraction, "must be in [0, 1)")
        choice("adversary.attack", self.attack, ["none", *ATTACKS.names()])
        if not isinstance(self.params, Mapping):
            raise fail("adversary.params", self.params, "must be a mapping")
        if self.attack == "none" and self.params:
            raise fail("adversary.params", self.params, "attack 'none' takes no parameters")
        if self.attack != "none":
            check_options("adversary.params", ATTACKS, self.attack, self.params)
            try:
                ATTACKS.get(self.attack, **dict(self.params))
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"adversary.params: {exc}") from None
        if not is_number(self.qfi_inflation) or not (
            self.qfi_inflation == 0 or 1 <= self.qfi_inflation <= 1e6
        ):
            rule = "must be 0 (off) or a number in [1, 1e6]"
            raise fail("adversary.qfi_inflation", self.qfi_inflation, rule)
        integer("adversary.sybils", self.sybils, 0, MAX_COUNT)
        unit("adversary.tamper", self.tamper)
        positive("adversary.tamper_scale", self.tamper_scale, MAX_SCALE)
        unit("adversary.eavesdrop", self.eavesdrop)
        forges = self.attack != "none" or self.qfi_inflation > 0 or self.sybils > 0
        if forges and self.fraction >= 0.5:
            # A Byzantine majority that forges updates is beyond any aggregation rule;
            # without an update attack the coalition still acts as leaders and in
            # agreement (leader section), which is defined at any size.
            raise fail(
                "adversary.fraction",
                self.fraction,
                "must be < 0.5 with an update attack, QFI inflation or Sybils; use "
                "attack none (and neither) for a larger coalition that attacks leadership "
                "only",
            )


def byzantine_count(fraction: float, n_nodes: int) -> int:
    """round(fraction·n), halves up: how many of ``n_nodes`` real nodes are Byzantine."""
    return math.floor(fraction * n_nodes + 0.5)


def check_feasible(adversary: AdversaryConfig, n_nodes: int) -> None:
    """The attack must be feasible for ``n_nodes`` nodes (checked when the config is
    read, not mid-run): at least 2 honest nodes to observe, and the attack's own rules
    for the Byzantine and Sybil count, exercised by a dry run on placeholder updates."""
    byzantine = byzantine_count(adversary.fraction, n_nodes)
    honest = n_nodes - byzantine
    if (byzantine or adversary.sybils) and adversary.attack != "none" and honest < 2:
        raise ConfigError(
            f"adversary.fraction = {show(adversary.fraction)}: leaves {honest} honest node(s) "
            f"of nodes.count = {n_nodes}; the attacks need at least 2 to observe"
        )
    if byzantine + adversary.sybils and adversary.attack != "none":
        attack = ATTACKS.get(adversary.attack, **dict(adversary.params))
        try:  # a dry run on placeholder updates exercises the attack's own rules
            attack(
                np.zeros((honest, 2)) + np.arange(honest)[:, None],
                f=byzantine + adversary.sybils,
                rng=np.random.default_rng(0),
            )
        except ValueError as exc:
            raise ConfigError(
                f"adversary: {exc} (with {byzantine} Byzantine node(s) and "
                f"{adversary.sybils} Sybil(s) among nodes.count = {n_nodes})"
            ) from None


__all__ = ["AdversaryConfig", "byzantine_count", "check_feasible"]
