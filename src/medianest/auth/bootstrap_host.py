"""The bootstrap password is accepted only at an address a stranger's web page cannot use.

Until the first admin replaces it, the bootstrap password is public knowledge (admin/admin
unless `MEDIANEST_ADMIN_PASSWORD` says otherwise). A web page visited from the household
can point a name of its own at 127.0.0.1 or the LAN address (DNS rebinding) and then talk to
MediaNest from its own origin: the browser sends that name as `Host`. So while the
bootstrap password is in force, it signs in only where `Host` is a name no stranger's DNS
answers for: an IP address, `localhost`, a single-label LAN name, a name under a suffix
that is never delegated in public DNS, or the host of `MEDIANEST_PUBLIC_URL`.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from medianest.core.errors import PermissionDenied

# Suffixes public DNS never answers for: mDNS (RFC 6762), RFC 8375's home.arpa, ICANN's
# private-use .internal (2024), and the loopback and home-router names RFC 6761 and
# common routers use.
_PRIVATE_SUFFIXES = (".local", ".localhost", ".home.arpa", ".internal", ".lan", ".home")


def host_name(host_header: str) -> str:
    """The name or address of a `Host` header, without its port, lower-case."""
    host = host_header.strip().lower()
    if host.startswith("["):  # [IPv6]:port
        return host[1:].partition("]")[0]
    name, _, port = host.rpartition(":")
    return name if name and port.isdigit() else host


def private_host(host_header: str | None, public_url: str | None) -> bool:
    """True when `Host` names MediaNest in a way no stranger's DNS can answer for."""
    if not host_header:
        return False  # HTTP/1.1 browsers always send one
    name = host_name(host_header).rstrip(".")
    if public_url and name == (urlsplit(public_url).hostname or "").lower():
        return True
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    return name == "localhost" or "." not in name or name.endswith(_PRIVATE_SUFFIXES)


def refuse_bootstrap_password_from(host_header: str | None, public_url: str | None) -> None:
    """403 for the bootstrap password reached by a name that could be anybody's."""
    if private_host(host_header, public_url):
        return
    raise PermissionDenied(
        "The first sign-in with the bootstrap password works only at MediaNest's IP address "
        "or http://localhost, so that no web page you visit can use it. Open MediaNest that "
        "way, or set MEDIANEST_PUBLIC_URL to the address you use.",
        details={"reason": "bootstrap_host", "host": host_name(host_header or "")},
    )
