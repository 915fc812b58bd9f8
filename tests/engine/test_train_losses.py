"""Losses fitted to output and target shapes, and the metrics that follow from them."""
import pytest
import torch
import torch.nn.functional as F

from layerloom.engine.train.losses import LossMismatch, Objective, measure


def test_per_token_cross_entropy_flattens_sequences_and_counts_accuracy_per_token():
    objective = Objective("cross_entropy", (5, 3), (5,), torch.int64, 3)
    output, target = torch.randn(4, 5, 3), torch.randint(0, 3, (4, 5))
    expected = F.cross_entropy(output.reshape(20, 3), target.reshape(20))
    assert torch.allclose(objective.loss(output, objective.prepare_target(target)), expected)
    assert int(objective.correct(output, target)) == int((output.argmax(-1) == target).sum())


def test_bce_reads_logits_shaped_like_the_target():
    objective = Objective("bce_with_logits", (1,), (), torch.int64)
    target = objective.prepare_target(torch.tensor([0, 1, 1]))
    output = torch.tensor([[-2.0], [3.0], [-1.0]])
    assert target.shape == (3, 1) and target.dtype == torch.float32
    assert int(objective.correct(output, target)) == 2


@pytest.mark.parametrize("name", ["mse", "l1"])
def test_regression_accepts_a_trailing_unit_dimension(name):
    objective = Objective(name, (1,), (), torch.float32)
    target = objective.prepare_target(torch.tensor([1.0, 2.0]))
    assert float(objective.loss(torch.tensor([[1.0], [2.0]]), target)) == 0.0
    assert not objective.has_accuracy


@pytest.mark.parametrize("name, output, target, dtype, classes, words", [
    ("cross_entropy", (10,), (), torch.float32, None, "class ids (int64)"),
    ("cross_entropy", (5,), (), torch.int64, 10, "scores 5 classes but the dataset has 10"),
    ("cross_entropy", (7, 3), (5,), torch.int64, 3, "one score per class"),
    ("mse", (10,), (1,), torch.float32, None, "must have the target's shape"),
])
def test_mismatches_name_both_shapes_and_the_fix(name, output, target, dtype, classes, words):
    with pytest.raises(LossMismatch) as error:
        Objective(name, output, target, dtype, classes)
    assert words in str(error.value)
    assert f"(N, {output[0]}" in str(error.value)


def test_measure_averages_over_the_whole_split_in_eval_mode():
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Dropout(0.9))
    inputs, target = torch.randn(10, 2), torch.randint(0, 3, (10,))
    objective = Objective("cross_entropy", (3,), (), torch.int64, 3)
    metrics = measure(model, (inputs,), target, objective, batch_size=3)
    with torch.no_grad():
        output = model[0](inputs)
    assert metrics["loss"] == pytest.approx(float(F.cross_entropy(output, target)), rel=1e-5)
    assert metrics["accuracy"] == pytest.approx(float((output.argmax(1) == target).float().mean()))
    assert model.training
