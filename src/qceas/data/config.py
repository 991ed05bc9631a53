"""The ``data`` config section: dataset, held-out split and partition across nodes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from qceas._rules import (
    MAX_COUNT,
    MAX_SAMPLES,
    MAX_SCALE,
    FrozenMapping,
    check_options,
    choice,
    fail,
    freeze_fields,
    integer,
    is_int,
    is_number,
    positive,
)
from qceas.data.datasets import DATASETS

SPLITS: tuple[str, ...] = ("iid", "dirichlet")


@dataclass(frozen=True)
class DataConfig:
    """Dataset, held-out test split and the partition across nodes (``qceas.data``)."""

    dataset: str = "iris"
    test_fraction: float = 0.3
    split: str = "iid"
    alpha: float = 0.5
    classes: tuple[int, ...] | None = None
    max_samples: int | None = None
    params: Mapping[str, Any] = field(default_factory=FrozenMapping)

    def __post_init__(self) -> None:
        freeze_fields(self)
        choice("data.dataset", self.dataset, DATASETS.names())
        if not is_number(self.test_fraction) or not 0 < self.test_fraction < 1:
            raise fail("data.test_fraction", self.test_fraction, "must be in (0, 1)")
        choice("data.split", self.split, SPLITS)
        positive("data.alpha", self.alpha, MAX_SCALE)
        if self.classes is not None and (
            not isinstance(self.classes, list | tuple)
            or not all(is_int(c) and 0 <= c <= MAX_COUNT for c in self.classes)
        ):
            rule = f"must be a list of integer labels in [0, {MAX_COUNT}]"
            raise fail("data.classes", self.classes, rule)
        if self.max_samples is not None:
            integer("data.max_samples", self.max_samples, 2, MAX_SAMPLES)
        if not isinstance(self.params, Mapping):
            raise fail("data.params", self.params, "must be a mapping of dataset parameters")
        check_options("data.params", DATASETS, self.dataset, self.params, exclude=("rng",))


__all__ = ["SPLITS", "DataConfig"]
