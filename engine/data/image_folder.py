"""Your own labelled images: one sub-folder per class (the torchvision ImageFolder layout), read with Pillow."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import torch
from PIL import Image
from pydantic import Field

from layerloom.engine.data.base import (DEFAULT_MAX_BYTES, Dataset, DatasetError, DatasetParams, DatasetSpec,
                                        existing_folder, too_large)
from layerloom.engine.data.pictures import open_image, to_array, visible_files

Side = Annotated[int, Field(ge=1, le=1024)]


class ImageFolderParams(DatasetParams):
    path: str = Field("", max_length=4096, description="folder holding one sub-folder of images per class",
                      json_schema_extra={"picker": "folder"})
    size: tuple[Side, Side] = Field((32, 32), description="height and width every image is resized to")
    grayscale: bool = Field(False, description="read one gray channel instead of three colour channels")


def class_folders(folder: Path) -> list[Path]:
    """The class sub-folders of `folder`, sorted; a file beside them or fewer than two classes is an error."""
    entries = sorted(entry for entry in folder.iterdir() if not entry.name.startswith("."))
    loose = [entry for entry in entries if not entry.is_dir()]
    if loose:
        raise DatasetError(f"file '{loose[0]}' is not in a class sub-folder: image_folder reads one sub-folder "
                           "of images per class, named after the class")
    if len(entries) < 2:
        found = f"only the class '{entries[0].name}'" if entries else "no class sub-folders"
        raise DatasetError(f"folder '{folder}' has {found}: put the images of each class (two or more) in a "
                           "sub-folder named after the class")
    return entries


def resize_image(path: Path, size: tuple[int, int], grayscale: bool) -> np.ndarray:
    """One image file as float32 (C, H, W) in [0, 1], resized (stretched) to `size` (height, width)."""
    height, width = size
    image = open_image(path, "L" if grayscale else "RGB", draft=(width, height))
    return to_array(image.resize((width, height), Image.Resampling.BILINEAR))


def load_image_folder(params: ImageFolderParams, seed: int, max_bytes: int = DEFAULT_MAX_BYTES) -> Dataset:
    """Images (N, C, H, W) in [0, 1] in class then file order, labels by class folder. The seed is unused."""
    folder = existing_folder(params.path, "a folder of class sub-folders")
    classes = class_folders(folder)
    files = []
    for label, class_folder in enumerate(classes):
        found = visible_files(class_folder)
        if not found:
            raise DatasetError(f"class folder '{class_folder}' holds no images")
        files += [(path, label) for path in found]
    channels, (height, width) = 1 if params.grayscale else 3, params.size
    needed = len(files) * channels * height * width * 4
    if needed > max_bytes:
        raise too_large(folder, f"the float32 tensor of {len(files):,} images of {channels}x{height}x{width}",
                        needed, max_bytes, "lower params.size")
    images = np.stack([resize_image(path, params.size, params.grayscale) for path, _ in files])
    labels = torch.tensor([label for _, label in files], dtype=torch.int64)
    info = {"class_names": [entry.name for entry in classes], "source": str(folder)}
    return Dataset((torch.as_tensor(images),), labels, "classification", len(classes), info=info)


IMAGE_FOLDER = DatasetSpec(
    "image_folder",
    "Your own labelled images: a folder with one sub-folder of images per class, resized to (C, H, W) in [0, 1].",
    ImageFolderParams,
    load_image_folder,
    "image",
    reads_files=True,
)
