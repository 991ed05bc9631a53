"""Key rates of entanglement-based QKD (BBM92 / E91) in the asymptotic limit.

With symmetric errors e in both bases, one-way error correction and privacy
amplification leave a secret fraction of sifted bits (Shor & Preskill, PRL 85, 441
(2000)):

    r(e) = max(0, 1 − 2·h2(e)),   h2(e) = −e·log2(e) − (1−e)·log2(1−e)

which is zero from e ≈ 0.110028 on: above that QBER no key is distilled (abort).

:func:`secret_fraction_unchecked` is the same map, to the bit, without the input
checks, for the network simulator, which evaluates it every slot on QBERs it computed
itself (``physics.qber_unchecked`` of fidelities in [1/4, 1]).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qceas.physics._checks import in_range
from qceas.physics.werner import FloatOrArray, _out

#: QBER at which 1 − 2·h2(e) reaches zero (root of h2(e) = 1/2).
QBER_THRESHOLD = 0.11002786443835955


def binary_entropy(p: ArrayLike) -> FloatOrArray:
    """Shannon entropy h2(p) in bits, with h2(0) = h2(1) = 0."""
    x = in_range("p", p, 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(x * np.log2(x) + (1.0 - x) * np.log2(1.0 - x))
    return _out(np.where((x == 0.0) | (x == 1.0), 0.0, h))


def secret_fraction(qber: ArrayLike) -> FloatOrArray:
    """Asymptotic secret bits per sifted bit, ``max(0, 1 − 2·h2(e))``."""
    e = in_range("qber", qber, 0.0, 1.0)
    h = np.asarray(binary_entropy(e))
    return _out(np.where(e >= QBER_THRESHOLD, 0.0, np.maximum(0.0, 1.0 - 2.0 * h)))


def secret_fraction_unchecked(qber: ArrayLike) -> NDArray[np.float64]:
    """:func:`secret_fraction` without input checks, elementwise.

    Equal to it bit for bit on [0, 1] (a test checks it): h2 is written out, with
    h2(0) = 0; at e = 1, where h2 is 0·log 0, the threshold gives 0 first.
    """
    e = np.asarray(qber, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(e * np.log2(e) + (1.0 - e) * np.log2(1.0 - e))
    h = np.where(e > 0.0, h, 0.0)
    return np.where(e >= QBER_THRESHOLD, 0.0, np.maximum(0.0, 1.0 - 2.0 * h))
