"""LayerLoom: design neural networks as graphs, train them, and watch their gradients flow.

    import layerloom
    arch = layerloom.load("templates/cnn_digits.json")   # DocumentError lists every problem
    problems, shapes = layerloom.check(arch)
    model = layerloom.compile_model(arch)                # a torch.fx.GraphModule
    print(layerloom.format_summary(layerloom.summarize(arch)))

`layerloom.engine` is the headless engine (no Qt, ever); `layerloom.designer` the desktop app.
"""
from .engine import *  # noqa: F401,F403  (the documented API lives at the top level)
from .engine import __all__
