"""Published architectures written out as LayerLoom documents, layer by layer as their papers describe them:
LeNet-5 (LeCun et al. 1998, on 32x32 input), VGG-16 (Simonyan and Zisserman 2014, configuration D) and
ResNet-18 (He et al. 2015), the last two as torchvision builds them for 224x224 ImageNet images."""
from __future__ import annotations

from layerloom import engine


class Builder:
    """Appends nodes in a chain; `add` returns the new node's id."""

    def __init__(self, name: str, shape: list[int]):
        self.name, self.nodes, self.edges = name, [{"id": "image", "type": "input", "params": {"shape": shape}}], []
        self.last = "image"

    def add(self, node_id: str, layer_type: str, source: str | list[str] | None = None, **params) -> str:
        self.nodes.append({"id": node_id, "type": layer_type, "params": params})
        for one in [source or self.last] if not isinstance(source, list) else source:
            self.edges.append({"source": one, "target": node_id})
        self.last = node_id
        return node_id

    def document(self) -> engine.Architecture:
        self.add("logits", "output")
        return engine.from_dict({"format_version": engine.FORMAT_VERSION, "name": self.name,
                                 "nodes": self.nodes, "edges": self.edges})


def lenet5() -> engine.Architecture:
    b = Builder("LeNet-5", [1, 32, 32])
    b.add("c1", "conv2d", out_channels=6, kernel_size=5)
    b.add("a1", "tanh")
    b.add("s2", "avgpool2d", kernel_size=2)
    b.add("c3", "conv2d", out_channels=16, kernel_size=5)
    b.add("a3", "tanh")
    b.add("s4", "avgpool2d", kernel_size=2)
    b.add("flat", "flatten")
    b.add("c5", "linear", out_features=120)
    b.add("a5", "tanh")
    b.add("f6", "linear", out_features=84)
    b.add("a6", "tanh")
    b.add("f7", "linear", out_features=10)
    return b.document()


def vgg16() -> engine.Architecture:
    b = Builder("VGG-16", [3, 224, 224])
    for stage, (channels, convs) in enumerate([(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)], start=1):
        for index in range(1, convs + 1):
            b.add(f"conv{stage}_{index}", "conv2d", out_channels=channels, kernel_size=3, padding=1)
            b.add(f"relu{stage}_{index}", "relu")
        b.add(f"pool{stage}", "maxpool2d", kernel_size=2)
    b.add("avgpool", "adaptive_avgpool2d", output_size=7)
    b.add("flat", "flatten")
    for index, features in enumerate([4096, 4096], start=6):
        b.add(f"fc{index}", "linear", out_features=features)
        b.add(f"relu{index}", "relu")
        b.add(f"drop{index}", "dropout", p=0.5)
    b.add("fc8", "linear", out_features=1000)
    return b.document()


def resnet18() -> engine.Architecture:
    b = Builder("ResNet-18", [3, 224, 224])
    b.add("conv1", "conv2d", out_channels=64, kernel_size=7, stride=2, padding=3, bias=False)
    b.add("bn1", "batchnorm")
    b.add("relu", "relu")
    b.add("maxpool", "maxpool2d", kernel_size=3, stride=2, padding=1)
    for stage, channels in enumerate([64, 128, 256, 512], start=1):
        for block in range(2):
            name, entry = f"layer{stage}_{block}", b.last
            stride = 2 if stage > 1 and block == 0 else 1
            b.add(f"{name}_conv1", "conv2d", out_channels=channels, kernel_size=3, stride=stride, padding=1, bias=False)
            b.add(f"{name}_bn1", "batchnorm")
            b.add(f"{name}_relu1", "relu")
            b.add(f"{name}_conv2", "conv2d", out_channels=channels, kernel_size=3, padding=1, bias=False)
            main = b.add(f"{name}_bn2", "batchnorm")
            skip = entry
            if stride != 1:
                b.add(f"{name}_down", "conv2d", entry, out_channels=channels, kernel_size=1, stride=2, bias=False)
                skip = b.add(f"{name}_down_bn", "batchnorm")
            b.add(f"{name}_add", "add", [main, skip])
            b.add(f"{name}_relu2", "relu")
    b.add("avgpool", "adaptive_avgpool2d", output_size=1)
    b.add("flat", "flatten")
    b.add("fc", "linear", out_features=1000)
    return b.document()
