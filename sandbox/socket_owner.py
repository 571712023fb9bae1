"""Whether the client end of a loopback TCP connection is held by a given process (or its descendants).

A server on 127.0.0.1 sees only the client's address and port. On Linux the kernel's socket table
(``/proc/net/tcp``, ``/proc/net/tcp6``) names the socket with that address pair by inode, and
``/proc/<pid>/fd`` lists the sockets a process holds; elsewhere psutil asks the system the same question.
"""
from __future__ import annotations

import os
import socket
import sys

import psutil


def held_by(pid: int | None, client: tuple, server: tuple) -> bool:
    """True when process ``pid`` or one of its descendants holds the socket at ``client`` connected to
    ``server`` (both ``(ip, port)``). Anything unknown answers False."""
    if pid is None:
        return False
    try:
        process = psutil.Process(pid)
        if sys.platform.startswith("linux"):
            inode = _socket_inode(client, server)
            if inode is None:
                return False
            link = f"socket:[{inode}]"
            return any(_holds(p.pid, link) for p in [process, *process.children(recursive=True)])
        wanted = (_plain(client), _plain(server))
        return any((_plain(tuple(c.laddr)), _plain(tuple(c.raddr or ()))) == wanted
                   for p in [process, *process.children(recursive=True)]
                   for c in p.net_connections(kind="tcp"))
    except (psutil.Error, OSError, ValueError):
        return False


def _plain(address: tuple) -> tuple:
    """An address pair without IPv6's mapping of IPv4 (``::ffff:127.0.0.1`` is 127.0.0.1)."""
    if len(address) < 2:
        return ()
    ip = str(address[0])
    return (ip[7:] if ip.startswith("::ffff:") else ip, int(address[1]))


def _kernel_hex(ip: str, port: int, ipv6: bool) -> str:
    """An address as the kernel's tables print it: the address in host-order 32-bit words, then the port."""
    packed = socket.inet_aton(ip)
    if ipv6:
        packed = b"\0" * 10 + b"\xff\xff" + packed
    words = "".join("%08X" % int.from_bytes(packed[i:i + 4], sys.byteorder) for i in range(0, len(packed), 4))
    return f"{words}:{port:04X}"


def _socket_inode(client: tuple, server: tuple) -> int | None:
    client, server = _plain(client), _plain(server)
    for table, ipv6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        local, remote = _kernel_hex(*client, ipv6), _kernel_hex(*server, ipv6)
        try:
            with open(table) as lines:
                next(lines, None)
                for line in lines:
                    fields = line.split()
                    if len(fields) > 9 and fields[1] == local and fields[2] == remote:
                        return int(fields[9])
        except FileNotFoundError:
            continue
    return None


def _holds(pid: int, link: str) -> bool:
    folder = f"/proc/{pid}/fd"
    try:
        names = os.listdir(folder)
    except OSError:
        return False
    for name in names:
        try:
            if os.readlink(f"{folder}/{name}") == link:
                return True
        except OSError:
            continue
    return False
