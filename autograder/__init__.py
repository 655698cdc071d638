"""Course tooling: generate student stubs, execute notebooks, release and grade (``python -m autograder``)."""
