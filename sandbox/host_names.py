"""Host names and addresses: which ones are this machine's loopback, and how a ``Host`` header splits.

Shared by every server the sandbox runs (the local endpoint, each Runtime API, the page), so they all
agree on what "local only" means. A browser tricked by DNS rebinding still sends the attacker's DNS
name in ``Host``; an IP literal in ``Host`` can never be such a name.
"""

from __future__ import annotations

import ipaddress
import socket

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})
# Addresses that mean "every interface" when binding.
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", "[::]", ""})


def split_host(value: str) -> tuple[str, int | None]:
    """``"[::1]:8000"`` -> ``("[::1]", 8000)``; ``"localhost"`` -> ``("localhost", None)``; a malformed
    port gives -1."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return value, None
        name, rest = value[: end + 1], value[end + 1 :]
    elif value.count(":") == 1:
        name, rest = value.split(":", 1)
        rest = ":" + rest
    elif ":" in value:  # a bare IPv6 address without brackets is not a valid Host header
        return value, None
    else:
        name, rest = value, ""
    if not rest:
        return name, None
    if not rest.startswith(":") or not rest[1:].isdigit():
        return name, -1
    return name, int(rest[1:])


def normalise_name(name: str) -> str:
    """As the name appears in a Host header: lower case, IPv6 literals in brackets."""
    name = name.strip().lower().rstrip(".")
    if ":" in name and not name.startswith("["):
        name = f"[{name}]"
    return name


def ip_literal(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return None


def is_loopback_name(name: str) -> bool:
    """127.0.0.0/8, ::1, ``localhost`` and ``*.localhost`` (browsers resolve the last to loopback, RFC 6761;
    API Gateway's ``<api-id>.execute-api.localhost`` URLs rely on it)."""
    name = normalise_name(name)
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    address = ip_literal(name)
    return address is not None and address.is_loopback


def is_loopback_address(address: str) -> bool:
    """For a client's address (``REMOTE_ADDR``): loopback, including IPv4-mapped ``::ffff:127.0.0.1``."""
    parsed = ip_literal(address or "")
    if parsed is None:
        return False
    mapped = getattr(parsed, "ipv4_mapped", None)
    return (mapped or parsed).is_loopback


def machine_names() -> set[str]:
    """This machine's own names, which clients on the network may use when the sandbox listens on all
    interfaces (``--host 0.0.0.0``)."""
    names = {socket.gethostname(), socket.getfqdn()}
    names |= {f"{n}.local" for n in list(names) if n and "." not in n}
    return {normalise_name(n) for n in names if n}
