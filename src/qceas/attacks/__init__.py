"""Adversaries: Byzantine update attacks, a data attack, and identity/protocol attacks.

    from qceas.attacks import ATTACKS
    byz = ATTACKS.get("alie")(honest, f=5, rng=rng)     # (h, d) -> (f, d)

Update attacks (``ATTACKS``): alie, ipm, min_max, min_sum, sign_flip, gaussian, mimic
(see ``qceas.attacks.updates`` for formulas, conventions and each one's knowledge).
Data attack: ``label_flip`` (also ``DATA_ATTACKS["label_flip"]``). Identity and protocol
attacks (``qceas.attacks.identity``): QFI inflation, Sybil identities, man-in-the-middle
tampering, intercept-resend eavesdropping, entanglement hogging.
"""

from qceas.attacks.identity import (
    SybilIdentities,
    hog_demand,
    inflate_qfi,
    intercept_resend_qber,
    sybil_identities,
    tamper,
)
from qceas.attacks.updates import (
    ALIE,
    ATTACKS,
    DATA_ATTACKS,
    IPM,
    DataAttack,
    Gaussian,
    LabelFlip,
    Mimic,
    MinMax,
    MinSum,
    SignFlip,
    UpdateAttack,
    alie_z,
    get,
    label_flip,
)

__all__ = [
    "ALIE",
    "ATTACKS",
    "DATA_ATTACKS",
    "IPM",
    "DataAttack",
    "Gaussian",
    "LabelFlip",
    "Mimic",
    "MinMax",
    "MinSum",
    "SignFlip",
    "SybilIdentities",
    "UpdateAttack",
    "alie_z",
    "get",
    "hog_demand",
    "inflate_qfi",
    "intercept_resend_qber",
    "label_flip",
    "sybil_identities",
    "tamper",
]
