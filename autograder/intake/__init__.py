"""Which student handed in what: submissions, LMS download layouts, the roster."""
