"""Training: the Trainer and its event stream, the gradient monitor, probe, evaluation and sampling.

Import the modules directly (engine.train.trainer, engine.train.events, ...): engine.document imports
engine.train.config while it loads, so this package must not import the rest of the engine on import.
"""
