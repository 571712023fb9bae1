"""The real AWS CLI (awscli, this venv's) without paying its start-up on every command.

A command costs ~0.5 s of CPU, ~0.4 s of it importing awscli and its plugins; the suite runs some 150.
Here one server process per test process imports them once and forks a child for each command; the
child runs ``awscli.clidriver.main()`` on the command's own arguments, environment, working directory
and standard streams (passed over a Unix socket), so every command still runs all of the CLI's own code
from a fresh session: only the import is shared. ``aws`` in ``bin_dir()`` is the client: a tiny script
that hands its arguments and streams to the server and exits with the command's status; it kills the
command when it is killed itself (a test's timeout).

Linux only (fork, pidfd); elsewhere, or when SANDBOX_TEST_FRESH_AWS_CLI=1, ``command()`` is the plain
``python -m awscli`` and ``bin_dir()`` the venv's own bin, whose ``aws`` starts as a user's does.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import selectors
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

_CLIENT = """#!{python} -IS
import json, os, socket, struct, sys
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect({socket_path!r})
fds = []
for fd in (0, 1, 2):
    try:
        os.fstat(fd)
        fds.append(fd)
    except OSError:
        fds.append(os.open(os.devnull, os.O_RDWR))
head = json.dumps({{"argv": sys.argv[1:], "env": dict(os.environ), "cwd": os.getcwd()}}).encode()
socket.send_fds(sock, [struct.pack("!I", len(head))], fds)
sock.sendall(head)
status = b""
while len(status) < 4:
    chunk = sock.recv(4 - len(status))
    if not chunk:
        sys.exit(255)
    status += chunk
sys.exit(struct.unpack("!i", status)[0])
"""

_lock = threading.Lock()
_bin_dir: Path | None = None


def available() -> bool:
    return (
        sys.platform.startswith("linux")
        and hasattr(os, "pidfd_open")
        and os.environ.get("SANDBOX_TEST_FRESH_AWS_CLI") != "1"
    )


def bin_dir() -> Path:
    """A folder whose ``aws`` runs a command through the server (started on first use)."""
    global _bin_dir
    if not available():
        return Path(sys.executable).parent
    with _lock:
        if _bin_dir is None:
            _bin_dir = _start()
        return _bin_dir


def command() -> list[str]:
    """The argv that runs the AWS CLI: ``[*command(), "s3", "ls"]``."""
    if not available():
        return [sys.executable, "-m", "awscli"]
    return [str(bin_dir() / "aws")]


def _start() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="aws-cli-"))
    socket_path = folder / "server.sock"
    server = subprocess.Popen(
        [sys.executable, "-I", __file__, str(socket_path)],
        stdin=subprocess.PIPE,  # the server leaves when this process does (its stdin ends)
        stdout=subprocess.PIPE,
        stderr=None,
    )
    if server.stdout.readline().strip() != b"ready":
        raise RuntimeError("the preloaded AWS CLI server did not start")
    client = folder / "aws"
    client.write_text(_CLIENT.format(python=sys.executable, socket_path=str(socket_path)))
    client.chmod(0o755)

    def stop() -> None:
        server.stdin.close()
        server.wait(10)
        shutil.rmtree(folder, ignore_errors=True)

    atexit.register(stop)
    return folder


# -- the server (this file run as a script) ---------------------------------------------------------
def _read_exactly(conn: socket.socket, count: int, data: bytes = b"") -> bytes:
    while len(data) < count:
        more = conn.recv(count - len(data))
        if not more:
            raise EOFError
        data += more
    return data


def _receive(conn: socket.socket) -> tuple[dict, list[int]]:
    """The client's (request, [stdin, stdout, stderr]): the fds come with the request's length."""
    data, fds, _, _ = socket.recv_fds(conn, 4, 3)
    (length,) = struct.unpack("!I", _read_exactly(conn, 4, data))
    return json.loads(_read_exactly(conn, length)), fds


def _run_command(conn: socket.socket, request: dict, fds: list[int]) -> None:
    """In the forked child: become the command's process, run the CLI, exit with its status."""
    import awscli
    import awscli.clidriver

    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    # As awscli's import does (awscli/__init__.py): the user's AWS_DATA_PATH, then awscli's own data.
    given = os.environ["AWS_DATA_PATH"].split(os.pathsep) if "AWS_DATA_PATH" in os.environ else []
    data_path = [os.path.expanduser(os.path.expandvars(path)) for path in given]
    os.environ["AWS_DATA_PATH"] = os.pathsep.join(
        [*data_path, os.path.join(os.path.dirname(awscli.__file__), "data")]
    )
    sys.argv = ["aws", *request["argv"]]

    def killed_with_the_client() -> None:
        conn.recv(1)  # the client never sends more: this returns when it is gone
        os._exit(255)

    threading.Thread(target=killed_with_the_client, daemon=True).start()
    try:
        status = awscli.clidriver.main()
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        status = 255
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status or 0)


def serve(socket_path: str) -> None:
    import awscli.clidriver  # noqa: F401  (what every command imports: the driver, its built-in plugins)
    import awscli.handlers  # noqa: F401

    gc.freeze()  # the children's collections leave the shared objects alone (their pages stay shared)

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen(64)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(sys.stdin, selectors.EVENT_READ, "parent")
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        for key, _ in selector.select():
            if key.data == "parent":
                if not sys.stdin.buffer.read1(4096):
                    return
            elif key.data == "accept":
                conn, _ = listener.accept()
                try:
                    request, fds = _receive(conn)
                except (OSError, EOFError, ValueError):
                    conn.close()
                    continue
                pid = os.fork()
                if pid == 0:
                    listener.close()
                    _run_command(conn, request, fds)
                for fd in fds:
                    os.close(fd)
                pidfd = os.pidfd_open(pid)
                selector.register(pidfd, selectors.EVENT_READ, (pid, conn))
            else:
                pid, conn = key.data
                selector.unregister(key.fd)
                os.close(key.fd)
                _, wait_status = os.waitpid(pid, 0)
                try:
                    conn.sendall(struct.pack("!i", os.waitstatus_to_exitcode(wait_status)))
                except OSError:
                    pass
                conn.close()


if __name__ == "__main__":
    serve(sys.argv[1])
