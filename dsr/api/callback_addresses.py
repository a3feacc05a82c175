"""Which addresses a status callback may reach: public ones, and the internal networks the
organisation allows (`DSR_CALLBACK_ALLOWED_NETWORKS`), whatever the spelling of the host.

A host is read as a resolver would read it: IPv4 in its decimal, hexadecimal, octal and short
forms (`2130706433`, `0x7f000001`, `0177.0.0.1`, `127.1`), IPv6 with an IPv4 inside
(`::ffff:127.0.0.1`, 6to4, NAT64), a trailing dot, `localhost` and `*.localhost` (loopback by
RFC 6761). The same rules run when a URL is registered and, on every resolved address, when a
callback is sent, so that a name that later resolves inside (DNS rebinding) is not connected to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)
from typing import Any

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

ALLOWED_NETWORKS_KEY = "CALLBACK_ALLOWED_NETWORKS"
ALLOWED_NETWORKS_SETTING = f"DSR_{ALLOWED_NETWORKS_KEY}"

_SHARED = IPv4Network("100.64.0.0/10")
_UNIQUE_LOCAL = IPv6Network("fc00::/7")
_BROADCAST = IPv4Address("255.255.255.255")
_NAT64 = IPv6Network("64:ff9b::/96")
_LOOPBACK_NAMES = (IPv4Address("127.0.0.1"), IPv6Address("::1"))
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_HOST_MAX = 253


class InvalidHost(ValueError):
    """A host that is neither a name nor an address in any form a resolver accepts."""


@dataclass(frozen=True, slots=True)
class Host:
    """A URL's host as it will be reached: `name` for the Host header and TLS, and the
    `addresses` it stands for when it spells them itself (an address, or a loopback name);
    empty when only resolving the name tells."""

    name: str
    addresses: tuple[IPAddress, ...]

    @property
    def needs_resolving(self) -> bool:
        return not self.addresses


def parse_allowed_networks(value: object) -> tuple[IPNetwork, ...]:
    """Return the networks of `DSR_CALLBACK_ALLOWED_NETWORKS`: CIDR blocks separated by commas
    (or a list of them); raise ValueError naming the setting and the block it cannot read."""
    if value is None:
        return ()
    if isinstance(value, str):
        blocks: Iterable[object] = value.split(",")
    elif isinstance(value, Iterable):
        blocks = value
    else:
        raise ValueError(f"{ALLOWED_NETWORKS_SETTING} is a comma-separated list of CIDR blocks")
    networks: list[IPNetwork] = []
    for block in blocks:
        if isinstance(block, IPv4Network | IPv6Network):
            networks.append(block)
            continue
        text = str(block).strip()
        if not text:
            continue
        try:
            networks.append(ip_network(text, strict=False))
        except ValueError:
            raise ValueError(
                f"{ALLOWED_NETWORKS_SETTING}: {text!r} is not a network such as 10.0.0.0/8 "
                "or fd00::/8"
            ) from None
    return tuple(networks)


def allowed_networks_of(config: Mapping[str, Any]) -> tuple[IPNetwork, ...]:
    """Return the internal networks the application's settings let callbacks reach."""
    return parse_allowed_networks(config.get(ALLOWED_NETWORKS_KEY))


def read_host(hostname: str) -> Host:
    """Return what the URL host `hostname` (as `urlsplit().hostname` gives it: no brackets,
    lower case) designates; raise InvalidHost when no resolver could read it."""
    if not hostname or "%" in hostname:
        raise InvalidHost("a callback URL's host is a plain name or address")
    if ":" in hostname:
        try:
            return Host(hostname, (ip_address(hostname),))
        except ValueError:
            raise InvalidHost("a callback URL's host is not a valid IPv6 address") from None
    labels = hostname.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()  # one trailing dot: the same host, fully qualified
    if any(not label for label in labels) or len(".".join(labels)) > _HOST_MAX:
        raise InvalidHost("a callback URL's host is not a valid host name")
    if _ends_in_a_number(labels[-1]):
        return Host(hostname, (_ipv4_from_labels(labels),))
    if not all(_LABEL.fullmatch(label) for label in labels):
        raise InvalidHost("a callback URL's host is not a valid host name")
    if labels[-1] == "localhost":
        return Host(hostname, _LOOPBACK_NAMES)
    return Host(hostname, ())


def _ends_in_a_number(label: str) -> bool:
    """Tell whether a host ending in `label` is an IPv4 address (WHATWG URL's rule, which
    resolvers share): the last label is all digits or a 0x hexadecimal number."""
    if label.isdigit():
        return True
    try:
        _ipv4_part(label)
    except InvalidHost:
        return False
    return True


def _ipv4_part(label: str) -> int:
    if label[:2] in ("0x", "0X"):
        digits, base = label[2:], 16
    elif len(label) > 1 and label.startswith("0"):
        digits, base = label[1:], 8
    else:
        digits, base = label, 10
    if digits == "" and base == 16:
        return 0
    allowed = "0123456789abcdef"[:base]
    if not digits or any(c not in allowed for c in digits.lower()):
        raise InvalidHost("a callback URL's host is not a valid IPv4 address")
    return int(digits, base)


def _ipv4_from_labels(labels: Sequence[str]) -> IPv4Address:
    """Read an IPv4 address in any form inet_aton() accepts: a.b.c.d, a.b.c, a.b, a; each part
    decimal, octal (leading 0) or hexadecimal (0x)."""
    if len(labels) > 4:
        raise InvalidHost("a callback URL's host is not a valid IPv4 address")
    parts = [_ipv4_part(label) for label in labels]
    *leading, last = parts
    if any(part > 255 for part in leading) or last >= 256 ** (5 - len(parts)):
        raise InvalidHost("a callback URL's host is not a valid IPv4 address")
    value = last
    for position, part in enumerate(leading):
        value += part << (8 * (3 - position))
    return IPv4Address(value)


def internal_kind(address: IPAddress, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """Return the kind of internal address `address` is (loopback, private, link-local...),
    or None when a callback may reach it: a public address, or one in the `allowed` networks.

    An IPv4-mapped IPv6 address is its IPv4 address; one that carries an IPv4 address (6to4,
    NAT64) is internal when that address is.
    """
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if is_allowed(address, allowed):
        return None
    kind = _kind(address)
    if kind is None and isinstance(address, IPv6Address):
        carried = address.sixtofour
        if carried is None and address in _NAT64:
            carried = IPv4Address(int(address) & 0xFFFFFFFF)
        if carried is not None:
            kind = _kind(carried)
    return kind


def _kind(address: IPAddress) -> str | None:
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address == _BROADCAST:
        return "broadcast"
    if isinstance(address, IPv4Address) and address in _SHARED:
        return "shared (carrier-grade NAT)"
    if isinstance(address, IPv6Address) and address in _UNIQUE_LOCAL:
        return "unique-local"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if isinstance(address, IPv6Address) and address.is_site_local:
        return "site-local"
    if not address.is_global:
        return "special-purpose"
    return None


def is_allowed(address: IPAddress, allowed: Sequence[IPNetwork]) -> bool:
    """Tell whether `address` is in one of the `allowed` networks (mapped IPv4 as IPv4)."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == network.version and address in network for network in allowed)
