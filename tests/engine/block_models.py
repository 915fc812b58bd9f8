"""ResNet-18 and VGG-16 twice: as LayerLoom documents built from blocks, and hand-written as torchvision writes them.

Used by the equivalence tests and by bench/engine_bench.py (the compiled-over-hand-written ratio of a block model).
"""
from __future__ import annotations

from torch import nn


def _edges(*chain: str, extra: tuple = ()) -> list[dict]:
    return [{"source": a, "target": b} for a, b in zip(chain, chain[1:])] + [{"source": a, "target": b} for a, b in extra]


def _conv(node_id: str, channels, kernel: int = 3, stride=1, padding: int = 1) -> dict:
    params = {"out_channels": channels, "kernel_size": kernel, "stride": stride, "padding": padding, "bias": False}
    return {"id": node_id, "type": "conv2d", "params": params}


def _nodes(*specs) -> list[dict]:
    return [spec if isinstance(spec, dict) else {"id": spec[0], "type": spec[1], **({"params": spec[2]} if len(spec) > 2 else {})}
            for spec in specs]


RESNET_BLOCKS = {
    "basic": {
        "description": "two 3x3 convolutions with an identity skip",
        "params": {"channels": 64},
        "nodes": _nodes(("x", "input"), _conv("conv1", "$channels"), ("bn1", "batchnorm"), ("relu1", "relu"),
                        _conv("conv2", "$channels"), ("bn2", "batchnorm"), ("skip", "add"), ("relu2", "relu"),
                        ("y", "output")),
        "edges": _edges("x", "conv1", "bn1", "relu1", "conv2", "bn2", "skip", "relu2", "y", extra=(("x", "skip"),)),
    },
    "down": {
        "description": "a basic block that halves the size, its skip a strided 1x1 projection",
        "params": {"channels": None},
        "nodes": _nodes(("x", "input"), _conv("conv1", "$channels", stride=2), ("bn1", "batchnorm"), ("relu1", "relu"),
                        _conv("conv2", "$channels"), ("bn2", "batchnorm"),
                        _conv("proj", "$channels", kernel=1, stride=2, padding=0), ("proj_bn", "batchnorm"),
                        ("skip", "add"), ("relu2", "relu"), ("y", "output")),
        "edges": _edges("x", "conv1", "bn1", "relu1", "conv2", "bn2", "skip", "relu2", "y",
                        extra=(("x", "proj"), ("proj", "proj_bn"), ("proj_bn", "skip"))),
    },
    "stage": {
        "description": "a down block, then basic blocks",
        "params": {"channels": None, "basic_blocks": 1},
        "nodes": _nodes(("x", "input"), ("first", "down", {"channels": "$channels"}),
                        {"id": "rest", "type": "basic", "params": {"channels": "$channels"}, "repeat": "$basic_blocks"},
                        ("y", "output")),
        "edges": _edges("x", "first", "rest", "y"),
    },
}

RESNET18 = {
    "format_version": 2, "name": "ResNet-18", "blocks": RESNET_BLOCKS,
    "nodes": _nodes(("image", "input", {"shape": [3, 32, 32]}),
                    _conv("conv1", 64, kernel=7, stride=2, padding=3), ("bn1", "batchnorm"), ("relu", "relu"),
                    ("maxpool", "maxpool2d", {"kernel_size": 3, "stride": 2, "padding": 1}),
                    {"id": "layer1", "type": "basic", "params": {"channels": 64}, "repeat": 2},
                    ("layer2", "stage", {"channels": 128}), ("layer3", "stage", {"channels": 256}),
                    ("layer4", "stage", {"channels": 512}),
                    ("avgpool", "adaptive_avgpool2d", {"output_size": 1}), ("flatten", "flatten"),
                    ("fc", "linear", {"out_features": 1000}), ("logits", "output")),
    "edges": _edges("image", "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool",
                    "flatten", "fc", "logits"),
}


class BasicBlock(nn.Module):
    """torchvision's BasicBlock."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """torchvision's resnet18."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._layer(64, 64, 1)
        self.layer2 = self._layer(64, 128, 2)
        self.layer3 = self._layer(128, 256, 2)
        self.layer4 = self._layer(256, 512, 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)

    @staticmethod
    def _layer(inplanes: int, planes: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1:
            downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes))
        return nn.Sequential(BasicBlock(inplanes, planes, stride, downsample), BasicBlock(planes, planes))

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


VGG_BLOCKS = {
    "conv_relu": {
        "params": {"channels": None},
        "nodes": _nodes(("x", "input"), ("conv", "conv2d", {"out_channels": "$channels", "kernel_size": 3, "padding": 1}),
                        ("relu", "relu"), ("y", "output")),
        "edges": _edges("x", "conv", "relu", "y"),
    },
    "stage": {
        "description": "3x3 convolutions, each with its ReLU, then a 2x2 max pooling",
        "params": {"channels": None, "convs": 2},
        "nodes": _nodes(("x", "input"),
                        {"id": "convs", "type": "conv_relu", "params": {"channels": "$channels"}, "repeat": "$convs"},
                        ("pool", "maxpool2d", {"kernel_size": 2}), ("y", "output")),
        "edges": _edges("x", "convs", "pool", "y"),
    },
    "dense": {
        "params": {"features": 512},
        "nodes": _nodes(("x", "input"), ("fc", "linear", {"out_features": "$features"}), ("relu", "relu"),
                        ("drop", "dropout", {"p": 0.5}), ("y", "output")),
        "edges": _edges("x", "fc", "relu", "drop", "y"),
    },
}

VGG16 = {
    "format_version": 2, "name": "VGG-16", "blocks": VGG_BLOCKS,
    "nodes": _nodes(("image", "input", {"shape": [3, 32, 32]}),
                    ("stage1", "stage", {"channels": 64}), ("stage2", "stage", {"channels": 128}),
                    ("stage3", "stage", {"channels": 256, "convs": 3}), ("stage4", "stage", {"channels": 512, "convs": 3}),
                    ("stage5", "stage", {"channels": 512, "convs": 3}),
                    ("flatten", "flatten"), {"id": "classifier", "type": "dense", "repeat": 2},
                    ("fc", "linear", {"out_features": 10}), ("logits", "output")),
    "edges": _edges("image", "stage1", "stage2", "stage3", "stage4", "stage5", "flatten", "classifier", "fc", "logits"),
}


class VGG16Net(nn.Module):
    """VGG-16 (configuration D, without batch normalization) for 32x32 images, as written for CIFAR-10: torchvision's
    features, and a classifier of two 512-wide layers (the 7x7x512 -> 4096 one holds 103M parameters)."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        layers, channels = [], 3
        for width in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"):
            if width == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(inplace=True)]
                channels = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Linear(512, 512), nn.ReLU(True), nn.Dropout(0.5),
            nn.Linear(512, 512), nn.ReLU(True), nn.Dropout(0.5), nn.Linear(512, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))
