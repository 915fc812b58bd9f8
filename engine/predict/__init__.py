"""Predictions from a finished run on the user's own images, photos, sentences and tables."""

from layerloom.engine.predict.predictor import Explanation, PredictError, Predictor, Scores

__all__ = ["Explanation", "PredictError", "Predictor", "Scores"]
