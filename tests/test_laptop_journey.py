"""A student's laptop, end to end: the release's README commands, run as written, give a working Jupyter.

The release is built as an instructor builds it (``python -m autograder release``); the reference solutions are laid
over its ``helpers/`` (a student who completed the exercises). Then the three commands of the README's "Your machine"
block run in that folder, read from the README itself: a fresh virtual environment from Debian's ``/usr/bin/python3``,
``pip install -r requirements.txt`` (nothing else), and ``jupyter notebook notebooks/`` (plus a free port, a token and
no browser). Everything after that goes through the server, as a browser would: the notebook is read with the contents
API, a session starts its kernel, and each code cell is sent over the kernel's websocket. Smoke mode (``DDPM_FAST=1``)
is set in the server's environment, as CI sets it for every notebook run.

The install is the slow part (torch alone is a ~6 GB CUDA build); the timings of each step are written to
``outputs/laptop_journey.log`` in CI.
"""

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from .test_hygiene import ROOT
from .test_release import readme_laptop_commands

pytestmark = pytest.mark.slow

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_MANAGER = "@jupyter-widgets/jupyterlab-manager"  # the front end's half of ipywidgets (jupyterlab_widgets)
CELL_TIMEOUT = 300
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# What the student's shell brings to the commands: the machine's pip and network settings, nothing of this test's venv.
PASSED_ENV = ("LANG", "LC_ALL", "TMPDIR", "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Laptop:
    """The student's course folder, its venv and the Jupyter server the README started."""

    course: Path
    venv: Path
    home: Path
    readme_commands: list
    port: int = 0
    token: str = ""
    server: subprocess.Popen = None
    server_log: Path = None
    kernel_pids: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def request(self, method, path, body=None, raw=False):
        req = urllib.request.Request(
            self.url + path,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
            data=None if body is None else json.dumps(body).encode(),
        )
        with urllib.request.urlopen(req, timeout=60) as response:
            data = response.read()
        if raw:
            return data.decode()
        return json.loads(data) if data else None

    def env(self):
        env = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
        env.update({name: value for name, value in os.environ.items() if name.startswith("PIP_")})
        env.update(PATH="/usr/local/bin:/usr/bin:/bin", HOME=str(self.home), DDPM_FAST="1")
        if os.environ.get("DDPM_DATA_DIR"):
            env["DDPM_DATA_DIR"] = os.environ["DDPM_DATA_DIR"]
        return env

    def server_output(self):
        return self.server_log.read_text()[-4000:] if self.server_log and self.server_log.exists() else ""


def _run_readme_command(laptop, argv, timeout):
    if argv[0] in ("python", "python3"):
        argv = ["/usr/bin/python3", *argv[1:]]  # the fresh venv comes from Debian's Python, not from the test's venv
    started = time.monotonic()
    done = subprocess.run(argv, cwd=laptop.course, env=laptop.env(), capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"`{shlex.join(argv)}` failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return time.monotonic() - started


def _start_server(laptop, argv):
    laptop.port, laptop.token = free_port(), uuid.uuid4().hex
    extra = ["--no-browser", f"--port={laptop.port}", "--port-retries=0", f"--IdentityProvider.token={laptop.token}"]
    if os.geteuid() == 0:
        extra.append("--allow-root")  # Jupyter refuses root without it; a student is not root
    laptop.server_log = laptop.home / "server.log"
    started = time.monotonic()
    with open(laptop.server_log, "w") as log:
        laptop.server = subprocess.Popen(
            [*argv, *extra], cwd=laptop.course, env=laptop.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = started + 120
    while True:
        if laptop.server.poll() is not None:
            raise AssertionError(f"`{shlex.join(argv)}` exited ({laptop.server.returncode}):\n{laptop.server_output()}")
        try:
            laptop.request("GET", "/api/status")
            break
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise AssertionError(f"the Jupyter server did not answer in 120 s:\n{laptop.server_output()}") from None
            time.sleep(0.5)
    return time.monotonic() - started


def _shut_down(laptop):
    """Every session's kernel, then the server, then any kernel left behind (kernels run in their own sessions)."""
    if laptop.server is not None and laptop.server.poll() is None:
        try:
            for session in laptop.request("GET", "/api/sessions"):
                laptop.request("DELETE", f"/api/sessions/{session['id']}")
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        os.killpg(laptop.server.pid, signal.SIGTERM)
        try:
            laptop.server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(laptop.server.pid, signal.SIGKILL)
            laptop.server.wait()
    for pid in laptop.kernel_pids:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


@pytest.fixture(scope="module")
def laptop(ci_outputs):
    """The release, installed and started by its README's commands; shut down and deleted (~6 GB) afterwards."""
    total = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="ddpm-laptop-"))
    course, home = folder / "ddpm-course", folder / "home"
    home.mkdir()
    laptop = Laptop(course=course, venv=course / ".venv", home=home, readme_commands=[])
    try:
        done = subprocess.run(
            [sys.executable, "-m", "autograder", "release", "--out", str(course)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        for path in sorted((ROOT / "solutions").glob("*.py")):  # the student has completed every exercise
            shutil.copyfile(path, course / "helpers" / path.name)
        commands = laptop.readme_commands = readme_laptop_commands((course / "README.md").read_text())
        assert [argv[:3] for argv in commands[:2]] == [["python3", "-m", "venv"], [".venv/bin/pip", "install", "-r"]], commands
        laptop.timings["release"] = time.monotonic() - total
        laptop.timings["venv"] = _run_readme_command(laptop, commands[0], timeout=300)
        laptop.timings["pip install -r requirements.txt"] = _run_readme_command(laptop, commands[1], timeout=1200)
        laptop.timings["server start"] = _start_server(laptop, commands[2])
        yield laptop
    finally:
        _shut_down(laptop)
        laptop.timings["total"] = time.monotonic() - total
        report = "\n".join(f"{name}: {seconds:.1f} s" for name, seconds in laptop.timings.items())
        report += f"\nload average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores\n"
        print(report)
        if ci_outputs:
            (ci_outputs / "laptop_journey.log").write_text(report)
        # Deleting the venv (6 GB, tens of thousands of files) takes minutes on a disk mounted with `discard`: rm runs on
        subprocess.Popen(["rm", "-rf", str(folder)], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class KernelChannel:
    """A kernel of the server, spoken to as a browser does: Jupyter's JSON messages over the kernel's websocket."""

    def __init__(self, laptop, kernel_id):
        import websocket  # websocket-client, a dependency of jupyter_server

        self.session = uuid.uuid4().hex
        self.ws = websocket.create_connection(
            f"ws://127.0.0.1:{laptop.port}/api/kernels/{kernel_id}/channels?session_id={self.session}",
            header=[f"Authorization: token {laptop.token}"],
            timeout=CELL_TIMEOUT,
        )

    def execute(self, code):
        """The cell's iopub messages; raises AssertionError with the kernel's traceback when the cell fails."""
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "username": "student", "session": self.session, "msg_type": "execute_request"}
        content = {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False}
        self.ws.send(
            json.dumps(
                {
                    "header": {**header, "version": "5.3", "date": ""},
                    "parent_header": {},
                    "metadata": {},
                    "content": {**content, "stop_on_error": True},
                    "channel": "shell",
                    "buffers": [],
                }
            )
        )
        messages, reply, idle = [], None, False
        while reply is None or not idle:
            frame = self.ws.recv()
            if isinstance(frame, bytes):  # messages with binary buffers (none of a progress bar's)
                continue
            message = json.loads(frame)
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            kind = message["header"]["msg_type"]
            if message["channel"] == "shell" and kind == "execute_reply":
                reply = message["content"]
            elif kind == "status":
                idle = message["content"]["execution_state"] == "idle"
            elif message["channel"] == "iopub":
                messages.append(message)
        if reply["status"] != "ok":
            trace = ANSI.sub("", "\n".join(reply.get("traceback", []))) or f"{reply.get('ename')}: {reply.get('evalue')}"
            raise AssertionError(f"cell failed:\n{code[:500]}\n{trace[-3000:]}")
        return messages

    def close(self):
        self.ws.close()


def run_notebook(laptop, name, ci_outputs=None):
    """Open ``name`` as the front end does (contents API, then a session that starts its kernel), run every code cell
    through the kernel's websocket, shut the kernel down; returns (notebook with outputs, kernel facts)."""
    started = time.monotonic()
    nb = nbformat.from_dict(laptop.request("GET", f"/api/contents/{name}?content=1&type=notebook")["content"])
    session = laptop.request(
        "POST", "/api/sessions", {"path": name, "name": name, "type": "notebook", "kernel": {"name": "python3"}}
    )
    channel = KernelChannel(laptop, session["kernel"]["id"])
    try:
        probe = "import json, os, sys\nprint(json.dumps([sys.prefix, os.getcwd(), os.getpid()]))"
        [facts] = [m for m in channel.execute(probe) if m["header"]["msg_type"] == "stream"]
        prefix, cwd, pid = json.loads(facts["content"]["text"])
        laptop.kernel_pids.append(pid)
        for cell in nb.cells:
            if cell.cell_type == "code":
                messages = channel.execute(cell.source)
                cell.outputs = [
                    nbformat.v4.output_from_msg(m)
                    for m in messages
                    if m["header"]["msg_type"] in ("stream", "display_data", "execute_result", "error")
                ]
    finally:
        channel.close()
        laptop.request("DELETE", f"/api/sessions/{session['id']}")
    laptop.timings[f"notebook {name}"] = time.monotonic() - started
    if ci_outputs:
        (ci_outputs / "laptop").mkdir(exist_ok=True)
        nbformat.write(nb, ci_outputs / "laptop" / name)
    return nb, {"prefix": prefix, "cwd": cwd, "pid": pid}


def test_the_readme_commands_start_jupyter_notebook_with_the_widget_front_end(laptop):
    jupyter = laptop.readme_commands[2]
    assert jupyter[:2] == [".venv/bin/jupyter", "notebook"], jupyter
    assert (laptop.venv / "bin" / "jupyter-notebook").is_file(), "`jupyter notebook` is not installed by requirements.txt"
    assert laptop.request("GET", "/api/status")["started"]
    # The page the browser opens, and in it the front end's widget manager: without it a bar shows as text only.
    page = laptop.request("GET", "/tree", raw=True)
    assert WIDGET_MANAGER in page, "the notebook page loads no widget manager (jupyterlab_widgets)"
    spec = laptop.request("GET", "/api/kernelspecs")
    assert spec["default"] in spec["kernelspecs"]


def test_notebook_01_runs_in_a_kernel_the_server_started(laptop, ci_outputs):
    nb, kernel = run_notebook(laptop, "01_noise_schedules.ipynb", ci_outputs)
    assert Path(kernel["prefix"]).resolve() == laptop.venv.resolve(), "the kernel is not the venv's Python"
    assert Path(kernel["cwd"]).resolve() == (laptop.course / "notebooks").resolve()
    assert any(
        out.get("output_type") == "display_data" and "image/png" in out.get("data", {})
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
    ), "no figure was drawn"


def test_tqdm_auto_draws_widget_bars_in_the_students_kernel(laptop, ci_outputs):
    """Notebook 03's training loop draws its bar with ``tqdm.auto``: a widget when ipywidgets is installed, else text."""
    nb, _ = run_notebook(laptop, "03_training_objective.ipynb", ci_outputs)
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    assert any(WIDGET_VIEW in out.get("data", {}) for out in outputs), "tqdm.auto drew no widget bar"
    assert not any("IProgress not found" in out.get("text", "") for out in outputs)
