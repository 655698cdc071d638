"""Isolation of student code (bubblewrap, container mode, cgroups, seccomp), the process protocol, and the in-box runner.

Student code runs only in a sandbox built from an allow-list (contract §6.3). A bubblewrap sandbox (``bwrap``)
sees the Python environment read-only (interpreter prefix, venv, the system's libraries), a read-only ``/box``
that the grader filled for this student alone (their ``helpers/``, the public stubs, the task inputs, the
runner), and a private size-capped ``/tmp`` and ``/dev/shm``. Nothing else: no course checkout, no
``solutions/``, no hidden tests, no other student, no network, its own PID, IPC and UTS namespaces, no
capabilities. Defence in depth, each layer named in ``Isolation.describe()`` (the report, every row): a seccomp
filter, nested user namespaces refused, ``/proc/sys`` read-only, cgroup limits on the whole box where the machine
delegates them, and rlimits in the runner. The sandbox never runs as uid 0, mapped or not.

Where each part is (a run calls ``detection.detect`` once, then ``student_run.run_student`` per student):

- ``detection``: which sandbox this machine allows, proven by a probe; ``run_script`` runs code in one sandbox.
- ``isolation``: the ``Isolation`` a run holds: the bwrap argv, the launcher's spec, the report's words.
- ``bubblewrap``: the bwrap binary and its options; ``SandboxUnavailable``. ``allow_list``: what a box sees.
- ``limits``: ``Limits``. ``syscall_filter``: the seccomp filter. ``container``: container mode (the harnesses).
- ``cgroups`` (detection), ``cgroup_box`` (``Plan``, ``Box``), ``cgroup_files`` (the kernel's files, ``join``).
- ``launcher``: run as ``python -I -S launcher.py JSON`` between the grader and bwrap (standard library only).
- ``protocol``: one sandbox process and its line/frame protocol. ``student_run``: one student's boxes.
- ``box/``: the files copied into every box (the runner: standard library, torch and numpy only).

This file imports nothing: ``launcher.py`` (no site-packages) and ``box/`` are imported through it.
"""
