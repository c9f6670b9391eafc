"""Engine rules, tested in-process."""
