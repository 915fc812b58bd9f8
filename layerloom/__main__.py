"""`python -m layerloom`: the `layerloom` command."""
from layerloom.engine.cli import run

run()
