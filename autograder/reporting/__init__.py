"""What grading writes: feedback, overrides, late rule, nbgrader gradebook, LMS exports."""
