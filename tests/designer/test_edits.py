"""Pure document edits used by the designer (no Qt needed)."""
import pytest

from layerloom import engine
from layerloom.designer import edits
from layerloom.designer.edits import EditError
from layerloom.engine import Edge
from layerloom.engine.layout import auto_layout

CNN = "templates/cnn_digits.json"


@pytest.fixture
def cnn():
    return engine.load(CNN)


def test_add_node_gives_unique_ids_and_position(cnn):
    arch, first = edits.add_node(cnn, "relu", (10, 20))
    arch, second = edits.add_node(arch, "relu")
    assert (first, second) == ("relu", "relu_2")
    assert arch.layout.nodes["relu"] == (10.0, 20.0)
    arch, third = edits.add_node(arch, "conv2d", node_id="conv1")
    assert third == "conv1_2"


def test_unique_id_skips_taken_and_reserved_names(cnn):
    assert edits.unique_id(cnn, "conv1") == "conv1_2"
    assert edits.unique_id(cnn, "forward") == "forward_2"
    assert edits.unique_id(cnn, "3d") == "n_3d"


def test_remove_nodes_drops_their_edges_and_layout(cnn):
    arch = edits.remove_nodes(auto_layout(cnn), ["relu1"])
    assert "relu1" not in {n.id for n in arch.nodes} | set(arch.layout.nodes)
    assert all("relu1" not in (e.source, e.target) for e in arch.edges)
    assert len(arch.edges) == len(cnn.edges) - 2


@pytest.mark.parametrize("edge, reason", [
    (Edge(source="image", target="conv2"), "already connected"),
    (Edge(source="fc", target="fc"), "cycle"),
    (Edge(source="fc", target="image"), "no input port 'in'"),
    (Edge(source="conv1", source_port="state", target="logits"), "no output port 'state'"),
    (Edge(source="nowhere", target="fc"), "source 'nowhere' is not a node"),
])
def test_connect_refuses_with_reason(cnn, edge, reason):
    with pytest.raises(EditError, match=reason):
        edits.connect(cnn, edge)


def test_connect_refuses_cycles(cnn):
    arch, extra = edits.add_node(cnn, "add")
    arch = edits.connect(arch, Edge(source="relu2", target=extra))
    arch = edits.disconnect(arch, [Edge(source="image", target="conv1")])
    with pytest.raises(EditError, match="would make a cycle"):
        edits.connect(arch, Edge(source=extra, target="conv1"))


def test_set_params_validates_and_names_the_field(cnn):
    arch = edits.set_params(cnn, "conv1", {"out_channels": 6, "kernel_size": 5, "padding": 2})
    assert arch.node("conv1").params.out_channels == 6
    assert engine.check(arch)[0] == []
    with pytest.raises(EditError, match="out_channels"):
        edits.set_params(cnn, "conv1", {"out_channels": -1})


def test_rename_updates_edges_and_layout(cnn):
    arch = edits.rename(auto_layout(cnn), "conv1", "first_conv")
    assert "first_conv" in arch.layout.nodes and "conv1" not in arch.layout.nodes
    assert Edge(source="image", target="first_conv") in arch.edges
    assert engine.check(arch)[0] == []
    with pytest.raises(EditError, match="already used"):
        edits.rename(arch, "first_conv", "conv2")
    with pytest.raises(EditError, match="not a valid id"):
        edits.rename(arch, "first_conv", "1st")


def test_insert_on_edge_splits_the_edge(cnn):
    arch, new = edits.insert_on_edge(cnn, Edge(source="conv1", target="relu1"), "batchnorm")
    assert Edge(source="conv1", target=new) in arch.edges and Edge(source=new, target="relu1") in arch.edges
    assert Edge(source="conv1", target="relu1") not in arch.edges
    problems, shapes = engine.check(arch)
    assert problems == [] and shapes.nodes[new].params == 2 * cnn.node("conv1").params.out_channels


def test_copy_paste_makes_ids_unique_and_keeps_inner_edges(cnn):
    arch = auto_layout(cnn)
    clip = edits.subgraph(arch, ["conv1", "relu1", "pool1"])
    pasted, ids = edits.paste(arch, clip)
    assert ids == ["conv1_2", "relu1_2", "pool1_2"]
    assert Edge(source="conv1_2", target="relu1_2") in pasted.edges
    assert pasted.layout.nodes["conv1_2"] == (arch.layout.nodes["conv1"][0] + 40, arch.layout.nodes["conv1"][1] + 40)
    assert len(pasted.edges) == len(arch.edges) + 2

