"""Running nbgrader's command line, quickly and with an environment of its own (its home, no user config).

Both the release (``nbgrader generate_assignment`` of the student notebooks) and the class's gradebook
(``autograder.reporting.gradebook``) run nbgrader through here.
"""

import subprocess
import sys
from pathlib import Path

# `python -m nbgrader`, minus 1.6 s: jsonschema's optional IRI checker (rfc3987_syntax) builds a
# grammar at import time that nbformat never uses; hiding it makes jsonschema skip that format.
LAUNCH = (
    "import sys; sys.modules['rfc3987_syntax'] = None; sys.argv[0] = 'nbgrader'; "
    "from nbgrader.apps.nbgraderapp import main; main()"
)


def environment(home: str | Path) -> dict[str, str]:
    """nbgrader's environment: ``home`` for every Jupyter folder, this interpreter's tools first on ``PATH``."""
    bindir = str(Path(sys.executable).parent)
    return {
        "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "JUPYTER_RUNTIME_DIR": str(Path(home) / "runtime"),
        "JUPYTER_CONFIG_DIR": str(Path(home) / "jupyter"),
        "IPYTHONDIR": str(Path(home) / "ipython"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "LANG": "C.UTF-8",
    }


def nbgrader(args: list[str], cwd: str | Path, home: str | Path, timeout: float = 900) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(
        [sys.executable, "-c", LAUNCH, *args], cwd=cwd, env=environment(home), capture_output=True, text=True, timeout=timeout
    )
