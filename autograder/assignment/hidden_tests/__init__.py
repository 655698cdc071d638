"""Hidden tests: the trusted half of grading. Never shipped to students, never run in their kernel.

``common`` holds the machinery (tasks, parts, the comparison rule, float64 references, case helpers);
one module per exercise module of ``solutions/`` (``schedules``, ``forward``, ``losses``, ``posterior``,
``unet``, ``sampling``, ``likelihood``, ``ddim``, ``guidance``) holds its exercises' input makers
(``make_*``), references (``ref_*``), error scales and part checks; ``functions`` grades the exercises
``new-exercise`` scaffolds; ``per_run`` makes one grading run's inputs, references and dependency code.
The exercise table (``autograder/assignment/exercises.py``) says which of them each exercise uses, and
how the sandbox calls the student (a call spec, ``autograder/sandbox/box/calls.py``); scoring is
``autograder/grading/scoring.py``. Nothing here imports the table.
"""
