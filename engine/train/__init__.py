"""Training: the Trainer and its event stream, the gradient monitor, probe, evaluation and sampling.

Import the modules directly (engine.train.trainer, engine.train.events, ...): the package itself imports nothing.
"""
