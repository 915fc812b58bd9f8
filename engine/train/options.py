"""What a command asks of a run beyond its document, as pydantic models: the overrides of the training section take
their types and bounds from TrainingConfig itself, so a flag is checked exactly as the document's field is."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ByteSize, ConfigDict, Field, create_model, field_validator, model_validator
from pydantic.fields import FieldInfo

from ..config import TrainingConfig
from ..data.base import DEFAULT_MAX_BYTES

Device = Literal["auto", "cpu", "cuda", "mps"]


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    data_limit: ByteSize = Field(ByteSize(DEFAULT_MAX_BYTES), gt=0, json_schema_extra={"metavar": "SIZE"},
                                 description="largest dataset file to read, e.g. 500MB or 8GiB")


def _override(name: str) -> tuple:
    """TrainingConfig's field `name`, optional: None keeps the document's value."""
    field = TrainingConfig.model_fields[name]
    return field.annotation | None, FieldInfo.merge_field_infos(field, default=None)


def _overrides(name: str, *fields: str) -> type[_Options]:
    return create_model(name, __base__=_Options, **{field: _override(field) for field in fields})


class TrainOptions(_overrides("_TrainOverrides", "epochs", "batch_size", "seed", "device", "dataset")):
    """How to run `layerloom train`: overrides of the training section, logging cadence and the run folder."""

    max_steps: int | None = Field(None, ge=1, description="stop after N optimizer steps")
    log_every: int = Field(10, ge=0, le=1_000_000, json_schema_extra={"metavar": "K"},
                           description="a step event with gradient statistics every K steps (0: none)")
    profile_every: int = Field(50, ge=1, le=1_000_000, json_schema_extra={"metavar": "K"},
                               description="BPTT profiles and activation health ride on the first step event past "
                                           "every K steps")
    out_dir: Path | None = Field(None, json_schema_extra={"metavar": "DIR"},
                                 description="run folder (default: runs/<name>-<date>-<time>)")
    resume: bool = Field(False, description="continue the run in --out from its last checkpoint")
    overwrite: bool = Field(False, description="replace the run in --out, once the new run's first checkpoint "
                                               "is written")
    tensorboard: bool = Field(False, description="also log to DIR/tensorboard (needs tensorboard)")

    @field_validator("dataset", mode="before")
    @classmethod
    def _dataset_text(cls, value):
        """--dataset gives a dataset's name, or a JSON object like training.dataset."""
        if not isinstance(value, str):
            return value
        if not value.lstrip().startswith("{"):
            return {"name": value}
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError(f"not valid JSON ({error.msg} at column {error.colno}); give a name or an object such "
                             'as {"name": "image_folder", "params": {"path": "photos"}}') from None

    @model_validator(mode="after")
    def _one_folder_rule(self) -> "TrainOptions":
        if self.resume and self.overwrite:
            raise ValueError("--resume continues the run in --out and --overwrite replaces it: give one")
        if (self.resume or self.overwrite) and self.out_dir is None:
            raise ValueError(f"--{'resume' if self.resume else 'overwrite'} needs --out DIR, the run folder")
        return self

    def overrides(self) -> dict:
        """The training section's fields this run changes."""
        return {name: getattr(self, name) for name in TrainingConfig.model_fields
                if name in type(self).model_fields and getattr(self, name) is not None}


class ProbeOptions(_overrides("_ProbeOverrides", "batch_size", "seed", "device")):
    """How to run `layerloom probe`."""


class EvalOptions(_Options):
    """How to run `layerloom eval` on a run folder."""

    device: Device = Field("cpu", description="where to run the model")


class SampleOptions(EvalOptions):
    """How to run `layerloom sample` on a run folder."""

    prompt: str | None = Field(None, max_length=100_000,
                               description="start of the text (text models; default: the start of a validation window)")
    length: int = Field(300, ge=1, le=1_000_000, description="characters to generate")
    temperature: float = Field(0.8, ge=0, le=1_000, description="0 picks the likeliest character")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="seed of the sampling")
    index: int = Field(0, ge=0, description="validation sample to predict (non-text models)")
