"""Isolation of student code (bubblewrap, container mode, cgroups, seccomp) and the in-box runner."""
