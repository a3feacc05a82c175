"""Failed staff logins slow down the one who fails, not the account: failures are counted per
account and client address together, and per client address alone; past an allowance, the next
attempt from that pair (or that address) is refused for a delay that doubles with each further
failure. Failures from other addresses never stop the staff member logging in from their own.

The counts live in the rate limits' storage (DSR_RATELIMIT_STORAGE_URI: Redis shared by every
worker in production), under keyed hashes: no address or email is stored. The clock is the
caller's, so that the delays can be tested without waiting.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from limits.storage import Storage

KEY_PREFIX = "dsr-login"
"""Every key of this module starts with it, apart from Flask-Limiter's."""


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """How many failures each pair and each address are allowed, and the delays after."""

    pair_failures: int = 5
    address_failures: int = 20
    first_delay: timedelta = timedelta(minutes=1)
    longest_delay: timedelta = timedelta(hours=1)
    memory: timedelta = timedelta(days=1)
    """Failures are forgotten this long after the first one that is counted."""

    def delay_after(self, failures: int, allowed: int) -> timedelta | None:
        """Return the wait after the `failures`-th failure, or None while within `allowed`."""
        if failures < allowed:
            return None
        doubled = self.first_delay * (1 << min(failures - allowed, 30))
        return min(doubled, self.longest_delay)


class LoginThrottle:
    """Counts of failed logins in a `limits` storage, keyed by HMAC(secret, account/address)."""

    def __init__(
        self, storage: Storage, *, secret: str, policy: ThrottlePolicy, prefix: str = ""
    ) -> None:
        """`prefix` starts every key (RATELIMIT_KEY_PREFIX: several desks on one Redis)."""
        self._storage = storage
        self._prefix = f"{prefix}{KEY_PREFIX}"
        self._secret = secret.encode()
        self.policy = policy

    def refused(self, *, account: str, address: str, now: datetime) -> bool:
        """Tell whether an attempt on `account` from `address` must wait (not checked at all)."""
        instant = now.timestamp()
        return any(
            self._storage.get(self._key(kind, name, "until")) > instant
            for kind, name in self._subjects(account, address)
        )

    def record_failure(self, *, account: str, address: str, now: datetime) -> None:
        """Count a failed password or code; start or lengthen the wait past the allowance."""
        memory = int(self.policy.memory.total_seconds())
        allowances = (self.policy.pair_failures, self.policy.address_failures)
        for (kind, name), allowed in zip(self._subjects(account, address), allowances, strict=True):
            failures = self._storage.incr(self._key(kind, name, "failures"), memory)
            delay = self.policy.delay_after(failures, allowed)
            if delay is not None:
                self._wait_until(self._key(kind, name, "until"), now + delay, delay)

    def record_success(self, *, account: str, address: str) -> None:
        """Forget the pair's failures (the address keeps its count: it may be guessing others)."""
        for part in ("failures", "until"):
            self._storage.clear(self._key("pair", self._pair(account, address), part))

    def _wait_until(self, key: str, until: datetime, delay: timedelta) -> None:
        self._storage.clear(key)
        expiry = int(delay.total_seconds()) + 1  # the storage forgets it a little after the wait
        self._storage.incr(key, expiry, amount=int(until.timestamp()) + 1)

    def _subjects(self, account: str, address: str) -> tuple[tuple[str, str], tuple[str, str]]:
        return ("pair", self._pair(account, address)), ("address", address)

    @staticmethod
    def _pair(account: str, address: str) -> str:
        return f"{account.strip().lower()}\x00{address}"

    def _key(self, kind: str, name: str, part: str) -> str:
        digest = hmac.new(self._secret, f"{kind}\x00{name}".encode(), hashlib.sha256)
        return f"{self._prefix}/{kind}/{digest.hexdigest()[:32]}/{part}"
