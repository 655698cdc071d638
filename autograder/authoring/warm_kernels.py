"""Warm kernels for ``execute``: fresh IPython kernels forked from a process that already imported the heavy libraries.

A notebook's kernel spends most of a smoke run importing ipykernel, torch, torchvision and matplotlib
(about 3 s of CPU each time). ``serve`` imports them once (never course code) and waits on a Unix
socket; the kernelspec runs ``launch``, a small stand-in for ``python -m ipykernel_launcher`` that asks
the server to fork a kernel with its own arguments, working directory, environment and standard streams,
forwards signals to it and exits when it does. Each kernel is still a new process that starts the
notebook from nothing but imported modules. When no server answers, ``launch`` becomes an ordinary kernel.
Messages on the socket: the request (JSON and the three streams), then ``pid N`` from the server and
``exit N`` from the kernel when it ends, or ``cold: why`` when the server declines.

Standard library only, and run as a script: the launcher starts in a notebook folder, where this package
cannot be imported.

    python warm_kernels.py serve SOCKET MODULE...     # the server (``execute`` starts and stops it)
    python warm_kernels.py launch SOCKET -f CONN ...  # the kernelspec's command line
"""

import atexit
import json
import os
import signal
import socket
import sys
import threading
import traceback
from typing import Any

MAX_REQUEST = 1 << 20
# What jupyter_client sets for each kernel: the only variables in which a kernel's environment may differ from the
# server's, since the imports already read theirs. ipykernel reads JPY_PARENT_PID at import: see _become_kernel.
PER_KERNEL = {"JPY_PARENT_PID", "JPY_SESSION_NAME"}


def serve(path: str, modules: list[str]) -> int:
    """Imports ``modules``, then forks a kernel for each launcher that asks on the socket ``path``; the exit code."""
    import importlib

    # this script's folder, autograder/: its modules must not shadow a library's; ipykernel_launcher drops its own
    # first entry too (the working folder), so kernels get the same sys.path (IPython then adds '')
    del sys.path[0]
    initial = dict(os.environ)
    for name in modules:
        importlib.import_module(name)
    # what the imports set (torchvision: TORCHINDUCTOR_CACHE_DIR): a kernel that imported them would have it
    made = {key: value for key, value in os.environ.items() if initial.get(key) != value}
    # a fork copies only the forking thread: a library that started one would hand kernels a broken copy of its state
    threads = len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else threading.active_count()
    if threads != 1:
        print(f"warmkernel: {threads} threads after the imports: not serving, kernels start cold", file=sys.stderr)
        return 1
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # kernels are reaped by the system; their launchers report them
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path)
    listener.listen(8)
    listener.settimeout(1)
    parent = os.getppid()
    while True:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            if os.getppid() != parent:  # execute is gone (killed): so is the server
                return 0
            continue
        conn.settimeout(None)
        try:
            message, fds, _, _ = socket.recv_fds(conn, MAX_REQUEST, 3)
            request = json.loads(message)
        except (OSError, ValueError):
            conn.close()
            continue
        changed = sorted(k for k in set(initial) | set(request["env"]) if initial.get(k) != request["env"].get(k))
        if set(changed) - PER_KERNEL:
            for fd in fds:
                os.close(fd)
            conn.sendall(f"cold: the kernel's environment differs in {', '.join(changed)}".encode())
            conn.close()
            continue
        pid = os.fork()
        if pid == 0:
            listener.close()
            _become_kernel(conn, request, fds, made)  # never returns
        for fd in fds:
            os.close(fd)
        conn.sendall(f"pid {pid}".encode())
        conn.close()


def _become_kernel(conn: socket.socket, request: dict[str, Any], fds: list[int], made: dict[str, str]) -> None:
    """In the forked child: take the launcher's streams, folder and environment, then run ipykernel until it stops."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update({**made, **request["env"]})
        parent = ["--IPKernelApp.parent_handle=" + os.environ["JPY_PARENT_PID"]] if "JPY_PARENT_PID" in os.environ else []
        sys.argv = ["ipykernel_launcher", *parent, *request["argv"]]
        if "numpy" in sys.modules:  # a fresh interpreter draws numpy's global seed itself; forks would share one
            sys.modules["numpy"].random.seed()

        def follow_the_launcher() -> None:  # killed (jupyter_client's last resort): the kernel goes too
            conn.recv(1)
            os._exit(1)

        threading.Thread(target=follow_the_launcher, daemon=True).start()
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            atexit._run_exitfuncs()  # what interpreter exit would run; os._exit skips it
            sys.stdout.flush()
            sys.stderr.flush()
            conn.sendall(f"exit {code}".encode())
        finally:
            os._exit(code)


def launch(path: str, argv: list[str]) -> int:
    """The kernel's process for jupyter_client: asks the server for a kernel, else execs an ordinary one."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    reply = b""
    try:
        conn.connect(path)
        request = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
        socket.send_fds(conn, [request], [0, 1, 2])
        reply = conn.recv(4096)
    except OSError:
        pass
    word, _, value = reply.decode(errors="replace").partition(" ")
    if word == "exit":  # the kernel ended before the server's word reached us
        return _exit_code(value)
    if word != "pid":
        if word == "cold:":
            print(f"warmkernel: {reply.decode()}: starting an ordinary kernel", file=sys.stderr)
        conn.close()
        os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *argv])
    pid = int(value)

    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(signum, forward)
    # like ipykernel's parent poller: a kernel whose client (execute) died goes too, here by this process exiting
    parent = os.getppid()
    conn.settimeout(1)
    while True:
        try:
            reply = conn.recv(64)  # "exit N", or nothing when the kernel died without a word
            break
        except TimeoutError:
            if os.getppid() != parent:
                return 1
    return _exit_code(reply.decode(errors="replace").removeprefix("exit "))


def _exit_code(text: str) -> int:
    return int(text) if text.strip().lstrip("-").isdigit() else 1


if __name__ == "__main__":
    command, socket_path, *rest = sys.argv[1:]
    sys.exit(serve(socket_path, rest) if command == "serve" else launch(socket_path, rest))
