"""The ``security`` config section: where authentication keys come from.

``key_schedule`` holds fields of the ``schedule`` section (``qceas.network.config``)
that override it for key supply only; the composite config merges and checks the
result (``qceas.training.config.RunConfig.key_schedule``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from qceas._rules import (
    MAX_EC_EFFICIENCY,
    MAX_SAMPLES,
    ConfigError,
    FrozenMapping,
    choice,
    fail,
    freeze_fields,
    integer,
    is_number,
    known,
)
from qceas.network.config import ScheduleConfig
from qceas.scheduling.config import scheduler_name

#: Where authentication keys come from (``SecurityConfig.key_source``).
KEY_SOURCES: tuple[str, ...] = ("fixed", "network")


@dataclass(frozen=True)
class SecurityConfig:
    """Key supply for authentication (``qceas.security``).

    ``key_source: fixed`` gives every node ``pairs_per_round`` pairs of
    ``link_fidelity`` per round. ``key_source: network`` simulates the ``network``
    section under the ``scheduler`` policy, one demand round per training round, and
    distills each node's key from the pairs it actually consumed, at their fidelities
    then. The demand is the ``schedule`` section's, with ``key_schedule`` (a mapping of
    ``schedule`` fields, e.g. ``{pairs_per_round: 600, round_period_s: 0.5}``)
    overriding it for key supply only, so one scenario can hold both a network study
    and a key-scale demand.
    """

    pairs_per_round: int = 2000
    link_fidelity: float = 0.95
    sample_fraction: float = 0.1
    ec_efficiency: float = 1.16
    key_source: str = "fixed"
    scheduler: str = "ceas"
    key_schedule: Mapping[str, Any] = field(default_factory=FrozenMapping)

    def __post_init__(self) -> None:
        freeze_fields(self)
        choice("security.key_source", self.key_source, KEY_SOURCES)
        scheduler_name("security.scheduler", self.scheduler)
        if not isinstance(self.key_schedule, Mapping):
            raise fail("security.key_schedule", self.key_schedule, "must map schedule fields")
        for name in self.key_schedule:
            if name not in known(ScheduleConfig):
                names = ", ".join(known(ScheduleConfig))
                raise ConfigError(f"security.key_schedule.{name}: unknown key (known: {names})")
        integer("security.pairs_per_round", self.pairs_per_round, 1, MAX_SAMPLES)
        if not is_number(self.link_fidelity) or not 0.25 <= self.link_fidelity <= 1:
            raise fail("security.link_fidelity", self.link_fidelity, "must be in [0.25, 1]")
        if not is_number(self.sample_fraction) or not 0 < self.sample_fraction < 1:
            raise fail("security.sample_fraction", self.sample_fraction, "must be in (0, 1)")
        if not is_number(self.ec_efficiency) or not 1 <= self.ec_efficiency <= MAX_EC_EFFICIENCY:
            rule = f"must be a number in [1, {MAX_EC_EFFICIENCY:g}]"
            raise fail("security.ec_efficiency", self.ec_efficiency, rule)


__all__ = ["KEY_SOURCES", "SecurityConfig"]
