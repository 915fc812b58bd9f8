"""CLI commands for training (train, probe, eval, sample); filled in by the training engine."""


def register(sub) -> None:
    """Add the training commands to the `layerloom` parser."""
