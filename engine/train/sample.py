"""Sampling from a trained run: text from a character model (poetry), or the prediction for one sample (sine)."""
from __future__ import annotations

import torch

from .evaluate import TrainedRun, class_names
from .setup import TrainingError

DEFAULT_PROMPT_CHARS = 16


def is_text_model(run: TrainedRun) -> bool:
    """A next-token model: one token input, a target of the same length, one class per vocabulary entry."""
    data = run.dataset
    return (bool(data.vocab) and len(data.inputs) == 1 and data.num_classes == len(data.vocab)
            and data.target.shape == data.inputs[0].shape)


@torch.no_grad()
def sample_text(run: TrainedRun, prompt: str | None = None, length: int = 300, temperature: float = 0.8,
                seed: int = 0) -> str:
    """Continue `prompt` (by default the start of the first validation window) one character at a time.

    The model sees the last T characters (T = its input length); a shorter context is padded on the right
    and the prediction is read at its last real position, which is exact for left-to-right models."""
    vocab = run.dataset.vocab
    index = {token: i for i, token in enumerate(vocab)}
    if prompt is None:
        first = run.split.val[0] if len(run.split.val) else 0
        prompt = "".join(vocab[i] for i in run.dataset.inputs[0][first][:DEFAULT_PROMPT_CHARS].tolist())
    unknown = sorted({ch for ch in prompt if ch not in index})
    if unknown:
        raise TrainingError(f"the prompt has characters outside the model's vocabulary: {''.join(unknown)!r}")
    if not prompt:
        raise TrainingError("the prompt is empty: give at least one character")
    steps = run.dataset.inputs[0].shape[1]
    ids = [index[ch] for ch in prompt]
    generator = torch.Generator().manual_seed(seed)
    for _ in range(length):
        window = ids[-steps:]
        padded = torch.tensor([window + [window[-1]] * (steps - len(window))], device=run.device)
        logits = run.model(padded)[0, len(window) - 1].float().cpu()
        if temperature <= 0:
            ids.append(int(logits.argmax()))
        else:
            probabilities = torch.softmax(logits / temperature, dim=-1)
            ids.append(int(torch.multinomial(probabilities, 1, generator=generator)))
    return "".join(vocab[i] for i in ids)


@torch.no_grad()
def predict_sample(run: TrainedRun, number: int = 0) -> str:
    """The model's output next to the target for validation sample `number`, as text."""
    part = run.split.val if len(run.split.val) else torch.arange(len(run.dataset))
    if not 0 <= number < len(part):
        raise TrainingError(f"sample {number} does not exist: the validation part has {len(part)} samples")
    row = int(part[number])
    inputs = tuple(x[row:row + 1].to(run.device) for x in run.dataset.inputs)
    output = run.model(*inputs)[0].float().cpu()
    target = run.dataset.target[row]
    lines = [f"validation sample {number}: input " + ", ".join(_short(x[0]) for x in inputs)]
    if run.dataset.task == "classification":
        binary = run.config.loss == "bce_with_logits"
        predicted = ((output > 0).long() if binary else output.argmax(-1)).reshape(-1).tolist()
        names = class_names(run.dataset, 2 if binary else output.shape[-1])
        truth = target.reshape(-1).tolist()
        lines.append("predicted: " + " ".join(names[i] for i in predicted))
        lines.append("target:    " + " ".join(names[int(i)] for i in truth))
        return "\n".join(lines)
    lines.append(f"{'t':>5} {'predicted':>12} {'target':>12}")
    for t, (value, want) in enumerate(zip(output.reshape(-1).tolist(), target.reshape(-1).tolist())):
        lines.append(f"{t:>5} {value:>12.4f} {want:>12.4f}")
    return "\n".join(lines)


def _short(tensor: torch.Tensor) -> str:
    values = tensor.reshape(-1).tolist()
    shown = ", ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in values[:8])
    return "[" + shown + (", ...]" if len(values) > 8 else "]")
