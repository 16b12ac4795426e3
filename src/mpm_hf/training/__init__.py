"""Training shared by ``examples/``: the Accelerate loop, step functions per stage, arguments, datasets."""
