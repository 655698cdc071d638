"""``python -m tests.corpus OUT_DIR``: write a release and the corpus to OUT_DIR (manual runs)."""

import sys
from pathlib import Path

from autograder.authoring import release

from . import build

args = [a for a in sys.argv[1:] if not a.startswith("--")]
out = Path(args[0] if args else "grading/corpus")  # grading/ is git-ignored
bundle = release.build(out / "_release", make_zip=False)
build(out / "submissions", bundle)
print(f"corpus in {out / 'submissions'}; grade it with: python -m autograder grade {out / 'submissions'} --out {out / 'grading'}")
