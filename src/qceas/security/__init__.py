"""Security of the CEAS round: QKD key distillation, Wegman–Carter MACs, channel.

Keys are distilled from delivered Bell pairs (:func:`distill`, BBM92) into per-node
:class:`KeyPool` s shared with the aggregator; every update is tagged with a
Wegman–Carter MAC (:mod:`qceas.security.mac`) by an :class:`AuthenticatedChannel`,
and an update whose node lacks key bits cannot be sent (ARCHITECTURE §1, §4).
"""

from qceas.security.channel import (
    AuthenticatedChannel,
    Message,
    Update,
    decode_update,
    encode_update,
)
from qceas.security.keys import DistillResult, KeyPool, distill, sift_probability
from qceas.security.mac import (
    HASH_KEY_BITS,
    KEY_BITS_PER_MESSAGE,
    PRIME,
    MacKey,
    forgery_bound,
    message_blocks,
    poly_hash,
    tag,
    verify,
)

__all__ = [
    "HASH_KEY_BITS",
    "KEY_BITS_PER_MESSAGE",
    "PRIME",
    "AuthenticatedChannel",
    "DistillResult",
    "KeyPool",
    "MacKey",
    "Message",
    "Update",
    "decode_update",
    "distill",
    "encode_update",
    "forgery_bound",
    "message_blocks",
    "poly_hash",
    "sift_probability",
    "tag",
    "verify",
]
