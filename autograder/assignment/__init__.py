"""What the exercises are: the exercise table, their hidden tests, mutants and notebook check cells."""
