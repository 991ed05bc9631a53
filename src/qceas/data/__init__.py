"""Datasets for QNN experiments and their partition across nodes.

* :func:`load_dataset` loads a bundled or synthetic dataset (:data:`DATASETS`), splits off
  a stratified test set and encodes ``n_features`` angles in ``[0, pi]`` per sample, with
  every statistic fit on the training rows only (:class:`FeatureEncoder`).
* :func:`split_iid` and :func:`split_dirichlet` partition the training set across nodes,
  IID or label-skewed after Hsu et al. (arXiv:1909.06335).
"""

from __future__ import annotations

from qceas.data.datasets import (
    DATASETS,
    Dataset,
    FeatureEncoder,
    RawDataset,
    load_dataset,
    prepare_dataset,
)
from qceas.data.splits import split_dirichlet, split_iid
from qceas.registry import UnknownNameError

__all__ = [
    "DATASETS",
    "Dataset",
    "FeatureEncoder",
    "RawDataset",
    "UnknownNameError",
    "load_dataset",
    "prepare_dataset",
    "split_dirichlet",
    "split_iid",
]
