"""Long lists of layers said briefly: ranges of names that count up, block copies by their path."""
from layerloom.engine.train.spans import alongside, said, spans


def test_names_that_count_up_one_by_one_are_one_range():
    assert said([f"layers_{i}_linear" for i in range(198)]) == "layers_0_linear … layers_197_linear (198 layers)"
    assert said([f"linear{i}" for i in range(1, 97)] + ["fc"]) == "linear1 … linear96 (96 layers), fc"
    assert said(["linear1", "linear2", "fc"]) == "linear1, linear2, fc"          # two are just listed
    assert said(["linear1", "linear3", "linear5"]) == "linear1, linear3, linear5"  # gaps: no range
    assert said(["a1b1", "a1b2", "a2b2"]) == "a1b1, a1b2, a2b2"      # a range counts up in one place only


def test_a_block_copy_whose_measured_layers_are_all_named_goes_by_its_path():
    among = [f"stage{s}.{i}.conv{j}" for s in (1, 2) for i in range(3) for j in (1, 2)] + ["fc"]
    assert said(among[:9], among) == "stage1, stage2.0, stage2.1.conv1"
    assert said(among, among) == "stage1, stage2, fc"
    deep = [f"layers.{i}.linear" for i in range(200)] + ["scores"]
    assert said(deep[:88], deep) == "layers.0 … layers.87 (88 blocks)"
    assert [span.blocks for span in spans(deep[:88], deep)] == [True]
    assert said(deep[:88]) == "layers.0.linear … layers.87.linear (88 layers)"   # nothing measured: no paths


def test_past_the_shown_spans_the_rest_is_counted():
    assert said([f"relu{i}" for i in range(1, 20, 2)], shown=4) == "relu1, relu3, relu5, relu7 … and 6 more"


def test_the_layers_measured_alongside_are_those_of_the_finding():
    assert alongside(["a"], ["a", "b"], ["r"]) == ["a", "b"]
    assert alongside(["r"], ["a", "b"], {"r": 1, "s": 2}) == ["r", "s"]
