"""Benchmarks of the course recipe: sample quality for a wall-clock budget, alone or beside a peer library."""
