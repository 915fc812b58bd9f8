"""The attention layers against torch's own modules given the same weights, their import, and their refusals."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from layerloom import engine
from layerloom.engine.builtin_blocks import with_builtin
from layerloom.engine.fximport import ImportFailure, import_module

E, HEADS, T = 16, 4, 7


def _document(layer: dict, inputs: dict[str, tuple]) -> engine.Architecture:
    """input nodes (one per port, `<port>_x`) -> the layer (id 'layer') -> outputs of its ports `out` and, if any, `weights`."""
    nodes = [{"id": f"{port}_x", "type": "input", "params": {"shape": list(shape)}} for port, shape in inputs.items()]
    nodes += [{"id": "layer", **layer}, {"id": "out", "type": "output"}]
    edges = [{"source": f"{port}_x", "target": "layer", "target_port": port} for port in inputs]
    edges.append({"source": "layer", "target": "out"})
    if layer["type"] == "multihead_attention":
        nodes.append({"id": "weights", "type": "output"})
        edges.append({"source": "layer", "source_port": "weights", "target": "weights"})
    return engine.from_dict({"format_version": 1, "nodes": nodes, "edges": edges})


def _run(model, inputs: list[torch.Tensor], call) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The outputs of `call(model, inputs)` and the gradients of a fixed function of them, inputs' then weights'."""
    inputs = [x.detach().clone().requires_grad_() for x in inputs]
    torch.manual_seed(5)
    outputs = call(model, inputs)
    loss = sum((o * torch.linspace(-1, 1, o.numel()).reshape(o.shape)).sum() for o in outputs)
    grads = torch.autograd.grad(loss, [*inputs, *model.parameters()])
    return [o.detach() for o in outputs], list(grads)


def _assert_same(ours, theirs) -> None:
    assert [len(part) for part in ours] == [len(part) for part in theirs]
    for got, want in zip(ours[0] + ours[1], theirs[0] + theirs[1]):
        torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_self_attention_equals_torch_multihead_attention(causal, mode):
    torch.manual_seed(0)
    model = engine.compile_model(_document(
        {"type": "multihead_attention", "params": {"num_heads": HEADS, "causal": causal, "dropout": 0.2}},
        {"in": (T, E)}))
    torch_attention = nn.MultiheadAttention(E, HEADS, dropout=0.2, batch_first=True)
    torch_attention.load_state_dict(model.get_submodule("layer").state_dict())
    mask = torch.ones(T, T, dtype=torch.bool).triu(1) if causal else None
    getattr(model, mode)(), getattr(torch_attention, mode)()
    x = torch.randn(3, T, E)
    ours = _run(model, [x], lambda m, xs: list(m(*xs)))
    theirs = _run(torch_attention, [x], lambda m, xs: list(m(xs[0], xs[0], xs[0], attn_mask=mask,
                                                               average_attn_weights=False)))
    _assert_same(ours, theirs)
    weights = ours[0][1]
    assert weights.shape == (3, HEADS, T, T)
    if causal:   # the first position sees itself alone (in training, dropout scales what it keeps)
        assert (weights.triu(1) == 0).all() and (mode == "train" or (weights[..., 0, 0] == 1).all())


def test_cross_attention_equals_torch_multihead_attention():
    torch.manual_seed(0)
    model = engine.compile_model(_document({"type": "multihead_attention", "params": {"num_heads": 2}},
                                           {"query": (3, E), "key_value": (T, E)}))
    torch_attention = nn.MultiheadAttention(E, 2, batch_first=True)
    torch_attention.load_state_dict(model.get_submodule("layer").state_dict())
    q, kv = torch.randn(4, 3, E), torch.randn(4, T, E)
    ours = _run(model, [q, kv], lambda m, xs: list(m(*xs)))
    theirs = _run(torch_attention, [q, kv], lambda m, xs: list(m(xs[0], xs[1], xs[1], average_attn_weights=False)))
    _assert_same(ours, theirs)
    assert ours[0][1].shape == (4, 2, 3, T)


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_encoder_layer_equals_torch_transformer_encoder_layer(norm_first, mode):
    params = {"num_heads": HEADS, "dim_feedforward": 32, "dropout": 0.1, "activation": "gelu",
              "norm_first": norm_first, "causal": True}
    torch.manual_seed(0)
    model = engine.compile_model(_document({"type": "transformer_encoder_layer", "params": params}, {"in": (T, E)}))
    torch.manual_seed(0)   # torch's module from the same seed starts from the same weights
    layer = nn.TransformerEncoderLayer(E, HEADS, 32, 0.1, "gelu", batch_first=True, norm_first=norm_first)
    for (name, ours), theirs in zip(model.get_submodule("layer").state_dict().items(), layer.state_dict().values()):
        assert torch.equal(ours, theirs), name
    mask = nn.Transformer.generate_square_subsequent_mask(T)
    getattr(model, mode)(), getattr(layer, mode)()
    x = torch.randn(3, T, E)
    ours = _run(model, [x], lambda m, xs: [m(*xs)])
    theirs = _run(layer, [x], lambda m, xs: [m(xs[0], src_mask=mask, is_causal=True)])
    _assert_same(ours, theirs)
    with torch.no_grad():    # eval without gradients: torch's fused fast path, the same numbers
        torch.testing.assert_close(model.eval()(x), layer.eval()(x, src_mask=mask, is_causal=True), atol=1e-5, rtol=0)


@pytest.mark.parametrize("block, norm_first", [("transformer_encoder", False), ("transformer_encoder_prenorm", True)])
def test_the_built_in_encoder_blocks_equal_torch_transformer_encoder_layer(block, norm_first):
    bare = engine.from_dict({"format_version": 2, "nodes": [{"id": "x", "type": "input", "params": {"shape": [T, E]}}]})
    arch, name = with_builtin(bare, block)
    assert with_builtin(arch, block) == (arch, name)   # used once more: the same definition, not a copy
    raw = arch.to_dict()
    raw["nodes"] += [{"id": "enc", "type": name, "params": {"d_model": E, "num_heads": HEADS, "dim_feedforward": 32}},
                     {"id": "y", "type": "output"}]
    raw["edges"] = [{"source": "x", "target": "enc"}, {"source": "enc", "target": "y"}]
    model = engine.compile_model(engine.from_dict(raw))
    layer = nn.TransformerEncoderLayer(E, HEADS, 32, 0.1, batch_first=True, norm_first=norm_first)
    model.get_submodule("enc").load_state_dict(layer.state_dict())   # the node names are torch's, so are the keys
    x = torch.randn(3, T, E)   # in training, dropout included: the nodes run in torch's order
    ours, theirs = _run(model, [x], lambda m, xs: [m(*xs)]), _run(layer, [x], lambda m, xs: [m(xs[0])])
    # the gradients by weight name (the block registers its layers in another order than torch's class)
    named = [{name.removeprefix("enc."): grad for (name, _), grad in zip(m.named_parameters(), grads[1:])}
             for m, (_, grads) in [(model, ours), (layer, theirs)]]
    _assert_same((ours[0], ours[1][:1] + [named[0][k] for k in named[1]]),
                 (theirs[0], theirs[1][:1] + list(named[1].values())))


class _Encoder(nn.Module):
    """A small transformer as people write it: embedding, learned positions, nn.TransformerEncoder, a head; and an
    attention read-out over the encoder's output."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, E)
        self.positions = nn.Parameter(torch.randn(1, T, E) * 0.02)
        layer = nn.TransformerEncoderLayer(E, HEADS, 32, dropout=0.1, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(E), enable_nested_tensor=False)
        self.pool = nn.MultiheadAttention(E, 2, dropout=0.1, batch_first=True)
        self.head = nn.Linear(E, 3)

    def forward(self, ids, query):
        x = self.encoder(self.embed(ids) + self.positions)
        read, _ = self.pool(query, x, x, need_weights=False)
        return self.head(read)


def test_a_transformer_imports_with_its_encoder_stack_and_cross_attention():
    imported = import_module(_Encoder(), [(T,), (2, E)])
    nodes = {n.id: n for n in imported.document.nodes}
    assert [n.type for n in nodes.values() if n.type in ("transformer_encoder_layer", "layernorm")] == [
        "transformer_encoder_layer", "transformer_encoder_layer", "layernorm"]
    assert nodes["pool"].type == "multihead_attention" and nodes["pool"].params.dropout == 0.1
    into_pool = {e.target_port: e.source for e in imported.document.edges if e.target == "pool"}
    assert into_pool.keys() == {"query", "key_value"} and into_pool["query"] == "query"
    assert nodes[into_pool["key_value"]].type == "layernorm"
    assert max(imported.difference.values()) < 1e-5 and imported.unused == []


@pytest.mark.parametrize("module, types", [
    (nn.TransformerEncoderLayer(E, HEADS, 32, batch_first=True), ["transformer_encoder_layer"]),
    (nn.TransformerEncoder(nn.TransformerEncoderLayer(E, HEADS, 32, batch_first=True), 2,
                           enable_nested_tensor=False), ["transformer_encoder_layer"] * 2),
    (nn.MultiheadAttention(E, HEADS, batch_first=True), ["multihead_attention"]),
], ids=["encoder-layer", "encoder", "attention"])
def test_torch_attention_modules_import_by_themselves(module, types):
    imported = import_module(module, [(T, E)])
    assert [n.type for n in imported.document.nodes if n.type not in ("input", "output")] == types
    model = engine.compile_model(imported.document)
    model.load_state_dict(imported.weights)
    x = torch.randn(2, T, E)
    with torch.no_grad():
        want = module.eval()(*([x] * (3 if types == ["multihead_attention"] else 1)),
                             **({"average_attn_weights": False} if types == ["multihead_attention"] else {}))
        got = model.eval()(x)
    for a, b in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


class _Refused(nn.Module):
    def __init__(self):
        super().__init__()
        self.crossed = nn.MultiheadAttention(E, HEADS, batch_first=True)
        self.averaged = nn.MultiheadAttention(E, HEADS, batch_first=True)
        self.masked = nn.MultiheadAttention(E, HEADS, batch_first=True)

    def forward(self, x, y):
        crossed, _ = self.crossed(x, y, x)
        _, weights = self.averaged(x, x, x)
        masked, _ = self.masked(x, x, x, is_causal=True, attn_mask=self.mask)
        return crossed, weights, masked

    mask = nn.Transformer.generate_square_subsequent_mask(T)


def test_what_attention_cannot_import_is_named():
    with pytest.raises(ImportFailure) as failure:
        import_module(_Refused(), [(T, E), (T, E)])
    lines = failure.value.lines
    assert len(lines) == 3
    assert "self.crossed" in lines[0] and "keys and values are different tensors" in lines[0]
    assert "masks (attn_mask, key_padding_mask, is_causal) are not imported" in lines[1]
    assert lines[2].endswith("uses the attention weights averaged over heads: LayerLoom's weights port gives each "
                             "head's (average_attn_weights=False)")


def test_a_wrongly_wired_attention_says_which_ports_to_connect():
    both = _document({"type": "multihead_attention"}, {"in": (T, E), "query": (T, E)})
    assert [p.message for p in engine.check(both)[0]] == [
        "connect either 'in' (self-attention) or 'query' and 'key_value' (cross-attention), not both"]
    alone = _document({"type": "multihead_attention"}, {"query": (T, E)})
    assert "connect 'in' (self-attention), or both 'query' and 'key_value'" in engine.check(alone)[0][0].message
    heads = _document({"type": "multihead_attention", "params": {"num_heads": 3}}, {"in": (T, E)})
    assert engine.check(heads)[0][0].message == ("num_heads 3 must divide the embedding size 16 (the input's last "
                                                 "dimension)")
    long = _document({"type": "positional_embedding", "params": {"max_length": 5}}, {"in": (T, E)})
    assert engine.check(long)[0][0].message == "the sequence has 7 steps, more than max_length 5"
