"""Files copied into every sandbox box: the runner and the public stand-ins. Standard library, torch and numpy only."""
