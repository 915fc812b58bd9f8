"""Built-in and user datasets: deterministic, generated or read locally, never downloaded."""

from layerloom.engine.data.base import Dataset, DatasetError, DatasetSpec
from layerloom.engine.data.fit import check_fits
from layerloom.engine.data.registry import DATASETS, load_dataset

__all__ = ["DATASETS", "Dataset", "DatasetError", "DatasetSpec", "check_fits", "load_dataset"]
