"""Validation: every kind of problem is reported, all at once, naming the node (and edge) at fault."""
from __future__ import annotations

import pytest

from layerloom import engine
from layerloom.engine import DocumentError, Problem


def doc(nodes: list, edges: list) -> dict:
    return {"format_version": 1, "nodes": nodes, "edges": [
        dict(zip(("source", "target", "source_port", "target_port"), e)) for e in edges
    ]}


def node(node_id: str, layer_type: str, **params) -> dict:
    return {"id": node_id, "type": layer_type, "params": params}


X, Y = node("x", "input", shape=[8]), node("y", "output")


def schema_problems(raw: dict) -> list[Problem]:
    with pytest.raises(DocumentError) as error:
        engine.from_dict(raw)
    return error.value.problems


def problems(raw: dict) -> list[Problem]:
    return engine.validate(engine.from_dict(raw))


def test_unknown_type_is_named_with_a_suggestion():
    [problem] = schema_problems(doc([X, node("rnn1", "lstn"), Y], []))
    assert (problem.node, problem.field) == ("rnn1", "type")
    assert problem.message == "unknown layer type or block 'lstn'; did you mean 'lstm'?"


@pytest.mark.parametrize("params, field", [
    ({"out_features": 0}, "params.out_features"),
    ({"out_features": "many"}, "params.out_features"),
    ({"out_features": 10**12}, "params.out_features"),
    ({"init": "zeros"}, "params.init"),
    ({"init_gain": float("inf")}, "params.init_gain"),
    ({"units": 4}, "params.units"),
])
def test_bad_or_unknown_params_name_node_and_field(params, field):
    [problem] = schema_problems(doc([X, node("fc", "linear", **params), Y], []))
    assert (problem.node, problem.field) == ("fc", field)


@pytest.mark.parametrize("params, message", [
    ({"kernel_size": [3, 0]}, "params.kernel_size: item 2: Input should be greater than or equal to 1"),
    ({"kernel_size": 0}, "params.kernel_size: Input should be greater than or equal to 1"),
    ({"kernel_size": [3, 3, 3]}, "params.kernel_size: Tuple should have at most 2 items, not 3"),
    ({"padding": "samee"}, "params.padding: Input should be 'same' or 'valid'"),
    ({"padding": None}, "params.padding: Input should be a valid integer; or Input should be a valid array; "
                        "or Input should be 'same' or 'valid'"),
])
def test_a_union_reports_the_branch_that_fits_the_value(params, message):
    [problem] = schema_problems(doc([X, node("conv", "conv2d", **params), Y], []))
    assert str(problem) == f"node 'conv', {message}"


def test_unknown_param_is_called_unknown():
    [problem] = schema_problems(doc([X, node("fc", "linear", units=4), Y], []))
    assert problem.message == "unknown field"


def test_schema_problems_are_all_reported_at_once():
    found = schema_problems(doc([X, node("a", "linear", out_features=-1), node("b", "conv9d"), Y], [("x", 3)]))
    assert {(p.node, p.edge, p.field) for p in found} == {
        ("a", None, "params.out_features"), ("b", None, "type"), (None, 0, "target"),
    }


def test_node_without_an_id_is_named_by_its_position():
    [problem] = schema_problems(doc([X, {"type": "relu"}, Y], []))
    assert (problem.node, problem.field) == ("#1", "id")


def test_params_and_ports_may_be_omitted():
    arch = engine.from_dict({"format_version": 1, "nodes": [{"id": "x", "type": "input"}, {"id": "y", "type": "output"}],
                             "edges": [{"source": "x", "target": "y"}]})
    assert arch.edges[0] == engine.Edge(source="x", target="y", source_port="out", target_port="in")
    assert problems(arch.to_dict()) == []


def test_duplicate_ids_are_reported_once_per_id():
    [problem] = problems(doc([X, node("fc", "linear"), node("fc", "relu"), Y], [("x", "fc"), ("fc", "y")]))
    assert problem.node == "fc" and "duplicate id" in problem.message


@pytest.mark.parametrize("bad_id", ["2fast", "my-layer", "class", "forward", "graph", "input_names", "self"])
def test_ids_must_be_usable_as_submodule_names(bad_id):
    [problem] = problems(doc([X, node(bad_id, "relu"), Y], [("x", bad_id), (bad_id, "y")]))
    assert (problem.node, problem.field) == (bad_id, "id")


def test_edges_to_unknown_nodes_name_the_edge():
    found = problems(doc([X, Y], [("x", "y"), ("ghost", "y"), ("x", "nowhere")]))
    assert {(p.edge, p.field) for p in found} >= {(1, "source"), (2, "target")}
    assert "'ghost' is not a node" in next(p.message for p in found if p.edge == 1)


def test_edges_to_unknown_ports_name_node_and_edge():
    found = problems(doc([X, node("fc", "linear"), Y], [("x", "fc", "out", "state"), ("fc", "y", "hidden", "in")]))
    assert {(p.node, p.edge, p.field) for p in found} >= {("fc", 0, "target_port"), ("fc", 1, "source_port")}


def test_cycles_name_their_nodes():
    found = problems(doc([X, node("a", "add"), node("b", "relu"), Y], [("x", "a"), ("b", "a"), ("a", "b"), ("b", "y")]))
    [cycle] = [p for p in found if "cycle" in p.message]
    assert cycle.node == "a"
    assert cycle.message in ("is in a cycle: a -> b -> a", "is in a cycle: b -> a -> b")


def test_missing_required_inputs_name_the_node():
    found = problems(doc([X, node("fc", "linear"), node("sum", "add"), Y], [("fc", "sum"), ("sum", "y")]))
    assert {(p.node, p.message) for p in found} >= {
        ("fc", "needs an input on port 'in', got 0"),
        ("sum", "needs at least 2 inputs on port 'in', got 1"),
    }


def test_several_edges_into_a_single_input_port():
    [problem] = problems(doc([X, node("x2", "input"), node("fc", "linear"), Y],
                             [("x", "fc"), ("x2", "fc"), ("fc", "y")]))
    assert problem.node == "fc" and problem.message == "input port 'in' takes one edge, got 2"


def test_nodes_not_connected_to_an_output():
    [problem] = problems(doc([X, node("dead", "relu"), Y], [("x", "y"), ("x", "dead")]))
    assert (problem.node, problem.message) == ("dead", "is not connected to an output")


def test_a_graph_needs_an_input_and_an_output():
    assert {p.message for p in problems(doc([], []))} == {"the graph has no input node", "the graph has no output node"}


def test_a_tensor_may_enter_a_port_of_several_edges_twice_but_other_duplicate_edges_are_reported():
    assert problems(doc([X, node("sum", "add"), Y], [("x", "sum"), ("x", "sum"), ("sum", "y")])) == []  # x + x
    found = problems(doc([X, node("fc", "linear"), Y], [("x", "fc"), ("x", "fc"), ("fc", "y")]))
    assert ("fc", 1, "duplicate edge") in {(p.node, p.edge, p.message) for p in found}


def test_every_structural_problem_is_reported_at_once():
    found = problems(doc(
        [X, node("fc", "linear"), node("fc", "relu"), node("loose", "tanh"), node("sum", "add"), Y],
        [("x", "fc"), ("fc", "y"), ("ghost", "sum"), ("x", "sum", "out", "side")],
    ))
    assert {p.node for p in found} >= {"fc", "loose", "sum"}
    assert any(p.edge == 2 for p in found) and any(p.edge == 3 for p in found)


def test_problem_text_names_node_edge_and_field():
    assert str(Problem("too big", node="conv1", field="params.kernel_size")) == "node 'conv1', params.kernel_size: too big"
    assert str(Problem("duplicate edge", node="sum", edge=3)) == "node 'sum', edge 3: duplicate edge"
    assert str(Problem("the graph has no input node")) == "the graph has no input node"


CHAIN = doc([X, node("fc", "linear"), node("act", "relu"), node("sum", "add"), Y],
            [("x", "fc"), ("fc", "act"), ("act", "sum"), ("x", "sum"), ("sum", "y")])


@pytest.mark.parametrize("edge, reason", [
    (("x", "fc"), "already connected"),
    (("fc", "act"), "already connected"),
    (("act", "fc"), "would make a cycle"),
    (("x", "act"), "takes one edge and is already connected"),
    (("ghost", "act"), "source 'ghost' is not a node"),
    (("fc", "act", "state", "in"), "linear has no output port 'state'"),
    (("fc", "act", "out", "side"), "relu has no input port 'side'"),
])
def test_a_refused_connection_is_a_problem_validate_would_report(edge, reason):
    from layerloom.engine.validate import connection_problems
    arch = engine.from_dict(CHAIN)
    new = engine.Edge(**dict(zip(("source", "target", "source_port", "target_port"), edge)))
    found = connection_problems(arch, new)
    assert found and reason in found[0].message
    assert len(engine.validate(arch.model_copy(update={"edges": [*arch.edges, new]}))) > len(engine.validate(arch))


def test_a_connection_to_a_port_that_takes_several_is_accepted():
    from layerloom.engine.validate import connection_problems
    arch = engine.from_dict(CHAIN)
    assert connection_problems(arch, engine.Edge(source="fc", target="sum")) == []
