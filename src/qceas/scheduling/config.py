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


def check_policies(schedule: ScheduleConfig, path: str = "schedule") -> None:
    """The policies of a ``schedule`` section and their options (``path``: where the
    section came from)."""
    for i, name in enumerate(schedule.policies):
        scheduler_name(f"{path}.policies[{i}]", name)
    scheduler_options(f"{path}.params", schedule.params)


__all__ = ["check_policies", "scheduler_name", "scheduler_options"]
