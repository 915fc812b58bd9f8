"""The `training` section of a document: what to train on and how."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

LossName = Literal["cross_entropy", "mse", "l1", "bce_with_logits", "nll"]
CLASSIFICATION_LOSSES = ("cross_entropy", "bce_with_logits", "nll")
MAX_BATCH_SIZE = 1_000_000


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class DatasetRef(_Config):
    name: str = Field(description="A built-in dataset (digits, spirals, sine, ...), or your own: image_folder, image_pairs, text, text_csv, csv, npz.")
    params: dict[str, Any] = Field(default_factory=dict, description="The dataset's own parameters.")


class OptimizerConfig(_Config):
    name: Literal["sgd", "adam", "adamw", "rmsprop"] = Field("adam", description="Update rule.")
    lr: float = Field(0.001, gt=0, le=10, description="Learning rate.")
    momentum: float = Field(0.0, ge=0, lt=1, description="Momentum (sgd and rmsprop).")
    weight_decay: float = Field(0.0, ge=0, le=1, description="L2 weight regularization.")


class GradClip(_Config):
    max_norm: float | None = Field(None, gt=0, description="Rescale g to g * v / ||g|| when ||g|| > v.")
    value: float | None = Field(None, gt=0, description="Clamp every gradient element to [-v, v].")

    @model_validator(mode="after")
    def _exactly_one(self) -> "GradClip":
        if (self.max_norm is None) == (self.value is None):
            raise ValueError("give exactly one of max_norm or value")
        return self


class TrainingConfig(_Config):
    dataset: DatasetRef = Field(description="What to train on: a dataset's name and its params.")
    loss: LossName = Field(description="Loss compared between the model's output and the target.")
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    epochs: int = Field(10, ge=1, le=100_000, description="Passes over the training data.")
    batch_size: int = Field(64, ge=1, le=MAX_BATCH_SIZE, description="Samples per step.")
    val_fraction: float = Field(0.2, ge=0, lt=1, description="Share of the data held out for validation.")
    grad_clip: GradClip | None = Field(None, description="Gradient clipping, or none.")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="Seed for initialization, splits and shuffling.")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="Where to train; auto picks a GPU if any.")
