"""The BPTT profile: the unrolled recurrent forward equals the fused one, and ||dL/dh_t|| behaves as theory says."""
import pytest
import torch

from layerloom import engine
from layerloom.engine.layers.recurrent import GRULayer, LSTMLayer, RNNLayer
from layerloom.engine.train.bptt import BpttCapture, unrolled
from layerloom.engine.train.probe import probe


def _layer(cls, layers=1, bidirectional=False, return_sequences=True, **extra):
    module = cls(3, 5, num_layers=layers, bidirectional=bidirectional, batch_first=True, **extra)
    module.return_sequences = return_sequences
    return module


LAYERS = [
    pytest.param(RNNLayer, {}, id="rnn_tanh"), pytest.param(RNNLayer, {"nonlinearity": "relu"}, id="rnn_relu"),
    pytest.param(LSTMLayer, {}, id="lstm"), pytest.param(GRULayer, {}, id="gru"),
]


@pytest.mark.parametrize("cls, extra", LAYERS)
@pytest.mark.parametrize("layers, bidirectional, return_sequences", [(1, False, True), (2, True, False), (2, False, True)])
def test_unrolled_forward_equals_the_fused_one(cls, extra, layers, bidirectional, return_sequences):
    torch.manual_seed(0)
    module = _layer(cls, layers, bidirectional, return_sequences, **extra)
    x = torch.randn(4, 6, 3)
    h = torch.randn(4, layers * (2 if bidirectional else 1), 5)
    state = (h, torch.randn_like(h)) if cls is LSTMLayer else h
    fused_out, fused_state = module(x, state)
    with BpttCapture({"r": module}) as capture:
        out, new_state = module(x, state)
    assert "forward" not in vars(module)  # the fused forward is back
    assert torch.allclose(out, fused_out, atol=1e-5)
    for got, want in zip(torch.utils._pytree.tree_leaves(new_state), torch.utils._pytree.tree_leaves(fused_state)):
        assert torch.allclose(got, want, atol=1e-5)
    out.square().sum().backward()
    profiles = capture.profiles()["r"]
    assert len(profiles) == (2 if bidirectional else 1) and all(p.shape == (6,) for p in profiles)


@pytest.mark.parametrize("cls, extra", LAYERS)
def test_unrolled_step_trains_exactly_like_the_fused_one(cls, extra):
    torch.manual_seed(1)
    module = _layer(cls, 2, True, **extra)
    x = torch.randn(3, 5, 3)
    module(x)[0].sum().backward()
    fused = [p.grad.clone() for p in module.parameters()]
    module.zero_grad()
    with BpttCapture({"r": module}):
        out = module(x)[0]
    out.sum().backward()
    for got, want in zip((p.grad for p in module.parameters()), fused):
        assert torch.allclose(got, want, atol=1e-5)


def test_profile_is_the_norm_of_each_hidden_states_gradient():
    torch.manual_seed(2)
    module = _layer(RNNLayer, return_sequences=False)
    x = torch.randn(4, 6, 3, requires_grad=True)
    with BpttCapture({"r": module}) as capture:
        module(x)[0].square().sum().backward()
    w_ih, w_hh, b_ih, b_hh = (getattr(module, n).detach() for n in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"))
    h, hidden = torch.zeros(4, 5), []
    for t in range(6):
        h = torch.tanh(x[:, t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh)
        h.retain_grad()
        hidden.append(h)
    h.square().sum().backward()
    expected = torch.stack([step.grad.norm() for step in hidden])
    assert torch.allclose(capture.profiles()["r"][0], expected, rtol=1e-4)


def _rnn_doc(bidirectional=False):
    return engine.from_dict({
        "format_version": 1,
        "nodes": [
            {"id": "seq", "type": "input", "params": {"shape": [30, 2]}},
            {"id": "rnn", "type": "rnn", "params": {"hidden_size": 16, "return_sequences": False,
                                                    "bidirectional": bidirectional, "init_gain": 0.1}},
            {"id": "head", "type": "linear", "params": {"out_features": 1}},
            {"id": "y", "type": "output"},
        ],
        "edges": [{"source": "seq", "target": "rnn"}, {"source": "rnn", "target": "head"},
                  {"source": "head", "target": "y"}],
    })


def test_small_tanh_rnn_gradient_decays_toward_the_first_step():
    result = probe(_rnn_doc(), device="cpu", seed=0)
    profile = result.step.bptt["rnn"]
    assert len(profile) == 30
    assert all(early <= late for early, late in zip(profile, profile[1:]))
    assert profile[0] < 1e-6 * profile[-1]
    assert ("vanishing", ["rnn"]) in [(d.kind, d.nodes) for d in result.diagnoses]


def test_bidirectional_reverse_direction_decays_toward_the_last_step():
    step = probe(_rnn_doc(bidirectional=True), device="cpu", seed=0).step
    forward, reverse = step.bptt["rnn"], step.bptt_reverse["rnn"]
    assert forward[0] < 1e-6 * forward[-1]
    assert reverse[-1] < 1e-6 * reverse[0]


def test_projected_lstms_are_refused():
    module = torch.nn.LSTM(3, 5, proj_size=2, batch_first=True)
    with pytest.raises(ValueError, match="projected"):
        unrolled(module, torch.randn(1, 2, 3))
