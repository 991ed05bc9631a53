"""The ``consensus`` config section: the grid ``qceas consensus`` runs.

Every grid field takes one value or a list; the grid is the product of the lists
(``points``). ``tuples: auto`` picks, per point, the smallest M whose honest-failure
bound and exact forgery probability meet ``target_failure`` (``bounds.min_tuples``);
with explicit tuples and a ``target_failure``, a point whose M cannot meet it is an
error. A commander attack (``equivocate`` …) needs ``commander: traitor``; grid points
that pair one with a loyal commander are left out (``points`` says which).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from qceas._rules import ConfigError, choice, fail, freeze_fields, integer, is_number, show
from qceas.agreement import bounds
from qceas.agreement.attacks import ATTACKS
from qceas.agreement.digest import Point
from qceas.agreement.noise import werner_errors
from qceas.agreement.protocol import RULES, SOURCES, Protocol

COMMANDERS: tuple[str, ...] = ("loyal", "traitor")
#: The fields that may hold a list (the grid), in the order a point names them.
GRID: tuple[str, ...] = (
    "players",
    "tuples",
    "fidelity",
    "tolerance",
    "traitors",
    "commander",
    "attack",
    "rule",
    "source",
    "source_test",
    "digest_bits",
)
MAX_PLAYERS = 1000
MAX_INSTANCES = 10**8


def _values(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, tuple | list) else (value,)


@dataclass(frozen=True)
class ConsensusConfig:
    """A grid of QDBA experiments (``qceas.agreement``)."""

    players: Any = 11
    tuples: Any = 112
    fidelity: Any = 1.0
    tolerance: Any = 0.0
    traitors: Any = 0
    commander: Any = "loyal"
    attack: Any = "none"
    rule: Any = "paper"
    source: Any = "honest"
    source_test: Any = 0.0
    digest_bits: Any = 1
    instances: int = 10_000
    count_alpha: float = 1e-6
    target_failure: float | None = None

    def __post_init__(self) -> None:
        freeze_fields(self)
        for name in GRID:
            raw = getattr(self, name)
            if isinstance(raw, tuple) and not raw:
                raise fail(f"consensus.{name}", raw, "must be a value or a non-empty list")
            many = isinstance(raw, tuple)
            for k, v in enumerate(_values(raw)):
                self._check_value(f"consensus.{name}" + (f"[{k}]" if many else ""), name, v)
        integer("consensus.instances", self.instances, 1, MAX_INSTANCES)
        if not is_number(self.count_alpha) or not 0 <= self.count_alpha < 0.5:
            raise fail("consensus.count_alpha", self.count_alpha, "must be a number in [0, 0.5)")
        if self.target_failure is not None and (
            not is_number(self.target_failure) or not 0 < self.target_failure < 1
        ):
            raise fail("consensus.target_failure", self.target_failure, "must be null or in (0, 1)")
        if "auto" in _values(self.tuples) and self.target_failure is None:
            raise fail("consensus.tuples", "auto", "needs consensus.target_failure")
        most = max(_values(self.traitors))
        fewest = min(_values(self.players))
        if most > fewest - 2:
            raise fail(
                "consensus.traitors",
                most,
                f"must be <= players - 2 = {fewest - 2} (at least one loyal lieutenant; "
                "with players - 1 traitors no loyal lieutenant is left to agree)",
            )
        if not self.points():
            raise ConfigError(
                "consensus.attack: every grid point pairs a commander attack with "
                "commander: loyal (set commander: traitor)"
            )

    def _check_value(self, path: str, name: str, v: Any) -> None:
        if name == "players":
            integer(path, v, 3, MAX_PLAYERS)
        elif name == "tuples":
            if v != "auto":
                integer(path, v, 1, bounds.MAX_TUPLES)
        elif name == "fidelity":
            if not is_number(v) or not 0.25 <= v <= 1:
                raise fail(path, v, "must be a Werner fidelity in [0.25, 1]")
        elif name == "tolerance":
            if not is_number(v) or not 0 <= v < 0.5:
                raise fail(
                    path, v, "must be in [0, 0.5): at 1/2 a forger guessing every bit passes"
                )
        elif name == "traitors":
            integer(path, v, 0, MAX_PLAYERS)
        elif name == "commander":
            choice(path, v, COMMANDERS)
        elif name == "attack":
            choice(path, v, tuple(ATTACKS.names()))
        elif name == "rule":
            choice(path, v, RULES)
        elif name == "source":
            choice(path, v, SOURCES)
        elif name == "source_test":
            if not is_number(v) or not 0 <= v <= 1:
                raise fail(path, v, "must be a fraction in [0, 1]")
        elif name == "digest_bits":
            integer(path, v, 1, 256)

    def grid(self) -> dict[str, tuple[Any, ...]]:
        """Every grid field's values."""
        return {name: _values(getattr(self, name)) for name in GRID}

    def points(self) -> list[dict[str, Any]]:
        """The grid points (field values), commander attacks with a loyal commander
        left out, ``tuples`` resolved (``auto`` → the smallest M meeting the target),
        each checked against ``target_failure``."""
        grid = self.grid()
        out = []
        for combo in itertools.product(*grid.values()):
            values = dict(zip(grid, combo, strict=True))
            if _needs_traitor_commander(values):
                continue
            values["tuples"] = self._tuples(values)
            out.append(values)
        return out

    def skipped(self) -> list[str]:
        """Why grid combinations are left out of ``points`` (one line per attack)."""
        grid = self.grid()
        if "loyal" not in grid["commander"]:
            return []
        return [
            f"attack {a} with commander loyal (a commander attack)"
            for a in grid["attack"]
            if _needs_traitor_commander({"attack": a, "commander": "loyal"})
        ]

    def _tuples(self, values: dict[str, Any]) -> int:
        eps = float(werner_errors(values["fidelity"])[0])
        tol, alpha, target = values["tolerance"], self.count_alpha, self.target_failure
        where = (
            f"at players {values['players']}, fidelity {show(values['fidelity'])}, "
            f"tolerance {show(tol)}"
        )
        if values["tuples"] == "auto":
            assert target is not None  # __post_init__: auto needs a target
            m = bounds.min_tuples(values["players"], eps, tol, alpha, target)
            if m is None:
                raise fail(
                    "consensus.tuples",
                    "auto",
                    f"no M <= {bounds.MAX_TUPLES} meets target_failure = {show(target)} {where} "
                    f"(the rule needs Z error {eps:.4g} < tolerance < 0.5)",
                )
            return m
        m = values["tuples"]
        if target is not None:
            honest = bounds.instance_failure_bound(values["players"], m, eps, tol, alpha)
            forged = bounds.forgery(m, tol, alpha)[0]
            if max(honest, forged) > target:
                need = bounds.min_tuples(values["players"], eps, tol, alpha, target)
                hint = (
                    f"needs tuples >= {need}"
                    if need
                    else "no M does: raise the tolerance above the Z error"
                )
                raise fail(
                    "consensus.tuples",
                    m,
                    f"too few for target_failure = {show(target)} {where}: failure bound "
                    f"{honest:.3g}, forgery {forged:.3g} ({hint})",
                )
        return int(m)

    def point(self, values: dict[str, Any]) -> Point:
        """The simulation of one grid point."""
        eps_z, eps_x = werner_errors(values["fidelity"])
        return Point(
            protocol=Protocol(
                players=values["players"],
                tuples=values["tuples"],
                tolerance=float(values["tolerance"]),
                rule=values["rule"],
                count_alpha=float(self.count_alpha),
                source_test=float(values["source_test"]),
            ),
            eps=float(eps_z),
            eps_x=float(eps_x),
            attack=values["attack"],
            traitors=values["traitors"],
            commander_traitor=values["commander"] == "traitor",
            source=values["source"],
            digest_bits=values["digest_bits"],
            instances=self.instances,
        )


def _needs_traitor_commander(values: dict[str, Any]) -> bool:
    """A commander attack paired with a loyal commander: not a point of the grid."""
    return ATTACKS.get(values["attack"]).commander_side and values["commander"] == "loyal"


__all__ = ["COMMANDERS", "GRID", "ConsensusConfig"]
