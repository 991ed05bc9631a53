"""Checks of the scheduler names and options that config sections hold.

``schedule.policies``/``schedule.params``, ``partition.scheduler``/``scheduler_params``
and ``security.scheduler`` name policies of :data:`qceas.scheduling.SCHEDULERS`. The
sections that hold them live in lower layers (``network``) or beside this one, so the
names are checked here, against the registry, by whichever config composes them; an
option set is checked by building the policy once, so a policy's own rule (a negative
cutoff, say) is an error when the config is read rather than mid-run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qceas._rules import check_options, choice, fail, under
from qceas.network.config import ScheduleConfig
from qceas.scheduling.base import SCHEDULERS
from qceas.scheduling.chain_policies import CHAIN_POLICIES


def scheduler_name(path: str, value: Any) -> None:
    """``value`` names a registered policy."""
    choice(path, value, SCHEDULERS.names())


def scheduler_options(path: str, value: Any) -> None:
    """A mapping policy name -> options that the policy accepts (``schedule.params``,
    ``partition.scheduler_params``)."""
    if not isinstance(value, Mapping):
        raise fail(path, value, "must be a mapping policy -> options")
    for name, options in value.items():
        scheduler_name(path, name)
        if not isinstance(options, Mapping):
            raise fail(f"{path}.{name}", options, "must be a mapping")
        check_options(f"{path}.{name}", SCHEDULERS, name, options)
        for key in getattr(SCHEDULERS.factory(name), "FROM_CONTEXT", ()):
            if key in options and options[key] is None:
                rule = "leave it out for its default (set from the network it schedules)"
                raise fail(f"{path}.{name}.{key}", None, rule)
        try:
            SCHEDULERS.get(name, **dict(options))
        except (TypeError, ValueError) as exc:  # the policy names its own argument
            raise under(f"{path}.{name}", exc) from None


def check_policies(
    schedule: ScheduleConfig, path: str = "schedule", *, chain: bool = False
) -> None:
    """The policies of a ``schedule`` section and their options (``path``: where the
    section came from; ``chain``: the network is a repeater chain, whose policies are
    :data:`qceas.scheduling.chain_policies.CHAIN_POLICIES`)."""
    if chain:
        _check_chain_policies(schedule, path)
        return
    for i, name in enumerate(schedule.policies):
        scheduler_name(f"{path}.policies[{i}]", name)
    scheduler_options(f"{path}.params", schedule.params)


def _check_chain_policies(schedule: ScheduleConfig, path: str) -> None:
    names = CHAIN_POLICIES.names()
    for i, name in enumerate(schedule.policies):
        if name not in names:
            rule = f"must be one of {', '.join(names)} (the policies of topology 'chain')"
            raise fail(f"{path}.policies[{i}]", name, rule)
    params = schedule.params
    for name, options in params.items():
        if name not in names:
            rule = f"must name one of {', '.join(names)} (the policies of topology 'chain')"
            raise fail(f"{path}.params", name, rule)
        if not isinstance(options, Mapping):
            raise fail(f"{path}.params.{name}", options, "must be a mapping")
        check_options(f"{path}.params.{name}", CHAIN_POLICIES, name, options)
        try:
            CHAIN_POLICIES.get(name, **dict(options))
        except (TypeError, ValueError) as exc:
            raise under(f"{path}.params.{name}", exc) from None


__all__ = ["check_policies", "scheduler_name", "scheduler_options"]
