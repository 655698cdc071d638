"""Grading a class: one run's inputs and references, scoring, the class folder."""
