"""``python -m tests.corpus OUT_DIR [--dangerous]``: write a release and the corpus to OUT_DIR (manual runs).

``--dangerous`` adds the cases that attack the grader (kill processes, scribble over grading files):
only for a grader that runs as root with the sandbox's unprivileged uids."""

import sys
from pathlib import Path

from autograder import release

from . import build

args = [a for a in sys.argv[1:] if not a.startswith("--")]
out = Path(args[0] if args else "grading/corpus")  # grading/ is git-ignored
bundle = release.build(out / "_release", make_zip=False)
build(out / "submissions", bundle, dangerous="--dangerous" in sys.argv)
print(f"corpus in {out / 'submissions'}; grade it with: python -m autograder grade {out / 'submissions'} --out {out / 'grading'}")
