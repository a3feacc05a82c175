"""The grounds on which the time to answer may be extended: Article 12(3) of the GDPR allows two
more months "taking into account the complexity and number of the requests", and nothing else
(R4). Staff choose one; it is kept with the request, audited and told to the requester."""

from __future__ import annotations

from enum import StrEnum


class ExtensionGround(StrEnum):
    """Why the time to answer is extended: one of the grounds Art. 12(3) allows."""

    COMPLEXITY = "complexity"  # the complexity of the request(s)
    NUMBER_OF_REQUESTS = "number_of_requests"  # the number of requests to answer


def extension_ground(value: object) -> ExtensionGround | None:
    """Return the ground `value` names (a member or its value), or None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        return ExtensionGround(value)
    except ValueError:
        return None
