"""Grading throughput benchmark (not a test): ``python -m tests.bench_grading [--jobs 2] [--students 20]``.

Grades ordinary submissions (the reference, a partial one and the §5 pitfalls of the corpus)
with the real CLI and prints the seconds per submission. Issue 7's budget: within 1.5x of
4.6 s per submission with ``--jobs 2`` on 2 cores.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.authoring import release
from autograder.paths import ROOT
from tests import corpus


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--students", type=int, default=20)
    args = parser.parse_args(argv)
    names = ["full_solution", "partial_schedules_only", *(n for n in corpus.cases() if n.startswith("pitfall_"))]
    names = names[: args.students]
    with tempfile.TemporaryDirectory(prefix="ddpm-bench-") as tmp:
        bundle = release.build(Path(tmp) / "release", make_zip=False)
        corpus.build(Path(tmp) / "subs", bundle, names=names)
        for extra in ("garbage_not_a_zip.zip", "empty_folder"):  # build() always adds these two
            target = Path(tmp) / "subs" / extra
            target.unlink() if target.is_file() else target.rmdir()
        start = time.monotonic()
        cmd = [sys.executable, "-m", "autograder", "grade", str(Path(tmp) / "subs"), "--out", str(Path(tmp) / "out")]
        cmd += ["--course-dir", str(Path(tmp) / "course"), "--jobs", str(args.jobs), "--seed", "1"]
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
        elapsed = time.monotonic() - start
    print(f"{len(names)} ordinary submissions, --jobs {args.jobs}: {elapsed:.1f} s, {elapsed / len(names):.2f} s each")


if __name__ == "__main__":
    main()
