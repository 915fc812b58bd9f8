"""Small user files made in a temporary folder: class folders of images, colour photos, text, CSVs, documents."""
import json

import numpy as np
from PIL import Image

COLORS = {"cherry": (200, 30, 40), "sky": (40, 90, 210)}


def picture(path, size, color, seed=0, mode="RGB"):
    """A noisy image of `color` with a light diagonal stripe, `size` (width, height), saved by its suffix."""
    width, height = size
    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(color) + rng.normal(0, 18, (height, width, 3)), 0, 255)
    rows, cols = np.indices((height, width))
    pixels[(rows + cols) % 9 < 2] = 235
    image = Image.fromarray(pixels.astype(np.uint8), "RGB")
    path.parent.mkdir(parents=True, exist_ok=True)
    (image.convert(mode) if mode != "RGB" else image).save(path)
    return path


def class_folders(root, per_class=4):
    """Two classes (cherry: red, sky: blue) of mixed sizes and formats, one with an alpha channel."""
    for index, (name, color) in enumerate(COLORS.items()):
        for i in range(per_class):
            suffix = ".jpg" if i == 1 else ".png"
            picture(root / name / f"{name}{i}{suffix}", (20 + 7 * i, 16 + 5 * i), color, seed=10 * index + i,
                    mode="RGBA" if i == 2 else "RGB")
    return root


def color_photos(root, count=3):
    """Colour photos of different sizes: dark red above, light green below (brightness tells the colour)."""
    for i in range(count):
        width, height = 40 + 11 * i, 30 + 9 * i
        rows = np.linspace(0, 1, height)[:, None, None]
        top, bottom = np.array([150, 30, 20]), np.array([120, 230, 120])
        pixels = top * (1 - rows) + bottom * rows + np.random.default_rng(i).normal(0, 10, (height, width, 3))
        root.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB").save(root / f"photo{i}.png")
    return root


def document(path, nodes, edges, dataset, loss="cross_entropy", lr=0.01, batch_size=16):
    """A document file with a linear chain of `edges` (pairs) and a training section on `dataset`."""
    doc = {"format_version": 1, "name": path.stem, "nodes": nodes,
           "edges": [{"source": a, "target": b} for a, b in edges],
           "training": {"dataset": dataset, "loss": loss, "optimizer": {"lr": lr}, "batch_size": batch_size,
                        "epochs": 1}}
    path.write_text(json.dumps(doc))
    return path


def chain(*nodes):
    """Edges linking the nodes in order."""
    ids = [node["id"] for node in nodes]
    return list(nodes), list(zip(ids, ids[1:]))


def image_classifier(path, folder, size=(12, 12), channels=3):
    """A small CNN over `folder` (image_folder)."""
    nodes, edges = chain(
        {"id": "image", "type": "input", "params": {"shape": [channels, *size]}},
        {"id": "conv1", "type": "conv2d", "params": {"out_channels": 6, "kernel_size": 3, "padding": 1}},
        {"id": "relu1", "type": "relu"},
        {"id": "pool", "type": "maxpool2d", "params": {"kernel_size": 2}},
        {"id": "conv2", "type": "conv2d", "params": {"out_channels": 4, "kernel_size": 3, "padding": 1}},
        {"id": "flat", "type": "flatten"},
        {"id": "fc", "type": "linear", "params": {"out_features": 2}},
        {"id": "scores", "type": "output"},
    )
    params = {"path": str(folder), "size": list(size), "grayscale": channels == 1}
    return document(path, nodes, edges, {"name": "image_folder", "params": params})
