"""Whether the client end of a loopback TCP connection is held by a given process (or its descendants).

A server on 127.0.0.1 sees only the client's address and port. On Linux the kernel names the socket
with that address pair by inode (one sock_diag lookup over netlink, as ``ss`` makes; else a scan of
``/proc/net/tcp``, slow when many connections linger), and ``/proc/<pid>/fd`` lists the sockets a process
holds; elsewhere psutil asks the system the same question.
"""

from __future__ import annotations

import os
import socket
import struct
import sys

import psutil


def held_by(pid: int | None, client: tuple, server: tuple) -> bool:
    """True when process ``pid`` or one of its descendants holds the socket at ``client`` connected to
    ``server`` (both ``(ip, port)``). Anything unknown answers False."""
    if pid is None:
        return False
    try:
        if sys.platform.startswith("linux"):
            inode = _socket_inode(client, server)
            if inode is None:
                return False
            link = f"socket:[{inode}]"
            return any(_holds(each, link) for each in _self_and_descendants(pid))
        process = psutil.Process(pid)
        wanted = (_plain(client), _plain(server))
        return any(
            (_plain(tuple(c.laddr)), _plain(tuple(c.raddr or ()))) == wanted
            for p in [process, *process.children(recursive=True)]
            for c in p.net_connections(kind="tcp")
        )
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
    words = "".join(
        f"{int.from_bytes(packed[i : i + 4], sys.byteorder):08X}" for i in range(0, len(packed), 4)
    )
    return f"{words}:{port:04X}"


def _socket_inode(client: tuple, server: tuple) -> int | None:
    client, server = _plain(client), _plain(server)
    for ipv6 in (False, True):
        try:
            inode = _diag_inode(client, server, ipv6)
        except OSError:  # no netlink (not Linux's, or forbidden): read the tables instead
            return _table_inode(client, server)
        if inode is not None:
            return inode
    return None


_SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST, _NLMSG_ERROR, _NETLINK_SOCK_DIAG = 20, 1, 2, 4
_NO_COOKIE = 0xFFFFFFFF


def _diag_inode(client: tuple, server: tuple, ipv6: bool) -> int | None:
    """One exact lookup of a TCP socket by its addresses (struct inet_diag_req_v2, linux/inet_diag.h)."""

    def address(ip):
        packed = socket.inet_aton(ip)
        return (b"\0" * 10 + b"\xff\xff" + packed) if ipv6 else packed + b"\0" * 12

    family = socket.AF_INET6 if ipv6 else socket.AF_INET
    sockid = (
        struct.pack("!HH", client[1], server[1])
        + address(client[0])
        + address(server[0])
        + struct.pack("=LLL", 0, _NO_COOKIE, _NO_COOKIE)
    )
    request = struct.pack("=BBBBL", family, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF) + sockid
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as netlink:
        netlink.settimeout(1.0)
        netlink.sendto(
            struct.pack("=LHHLL", 16 + len(request), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST, 1, 0) + request,
            (0, 0),
        )
        answer = netlink.recv(65536)
    _, kind = struct.unpack_from("=LH", answer)
    if kind == _NLMSG_ERROR or len(answer) < 88:
        return None  # no such socket
    return struct.unpack_from("=L", answer, 84)[0]  # inet_diag_msg's idiag_inode


def _table_inode(client: tuple, server: tuple) -> int | None:
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


def _self_and_descendants(pid: int):
    """``pid``, then its descendants, found lazily (Linux's /proc/<pid>/task/<tid>/children)."""
    pending = [pid]
    while pending:
        current = pending.pop(0)
        yield current
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pending += [int(child) for child in children.read().split()]
            except (OSError, ValueError):
                continue


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
