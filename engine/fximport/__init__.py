"""Import an existing torch `nn.Module` as a LayerLoom document, by tracing it with torch.fx.

    arch, weights = import_module(Net(), input_shapes=[(1, 28, 28)])
    compile_model(arch).load_state_dict(weights)       # computes what Net computes
"""
from .importer import Imported, import_module
from .values import ImportFailure
from .trace import construct, load_class, trace

__all__ = ["ImportFailure", "Imported", "construct", "import_module", "load_class", "trace"]
