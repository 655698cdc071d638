"""Grading inside Gradescope's and PrairieLearn's containers, and the bundles that install it there."""
