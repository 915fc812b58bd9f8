"""Plain torch models, written as a torch user would, for the `layerloom import` tests."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import fx, nn


class MLP(nn.Module):
    def __init__(self, in_features: int = 20, hidden: int = 32, classes: int = 5):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(in_features, hidden), nn.ReLU(), nn.Dropout(0.2),
            nn.Linear(hidden, hidden, bias=False), nn.Tanh(), nn.Linear(hidden, classes),
        )

    def forward(self, x):
        return self.layers(x)


class CNN(nn.Module):
    """Modules only: the flatten is nn.Flatten."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8, eps=1e-3, momentum=0.05)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 12, (3, 2), stride=(2, 1), dilation=(1, 2), groups=4)
        self.avg = nn.AvgPool2d(2, stride=1, padding=1)
        self.gap = nn.AdaptiveAvgPool2d((2, 3))
        self.flat = nn.Flatten()
        self.fc = nn.Linear(72, 10)
        self.out = nn.LogSoftmax(dim=1)

    def forward(self, x):
        x = self.pool(self.relu(self.bn1(self.conv1(x))))
        x = self.gap(self.avg(self.relu(self.conv2(x))))
        return self.out(self.fc(self.flat(x)))


class FunctionalCNN(nn.Module):
    """The classic tutorial style: functional activations and pooling, x.view(-1, N) and torch.flatten."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding="same")
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 4 * 4, 32)
        self.fc2 = nn.Linear(32, 16)
        self.fc3 = nn.Linear(16, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.avg_pool2d(self.conv2(x).relu(), kernel_size=2, stride=2)
        x = x.view(-1, 16 * 4 * 4)
        x = F.leaky_relu(self.fc1(x), 0.2)
        x = torch.flatten(x.view(x.size(0), 4, 8), 1)
        x = F.gelu(self.fc2(x.reshape(x.shape[0], -1)), approximate="tanh")
        return F.softmax(self.fc3(x), dim=-1)


class SequenceCNN(nn.Module):
    """1d convolutions and pooling, then a transposed 2d convolution and upsampling."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(3, 8, 5, stride=2, padding=2)
        self.pool = nn.MaxPool1d(3, stride=1, padding=1)
        self.avg = nn.AvgPool1d(2)
        self.gap = nn.AdaptiveAvgPool1d(4)
        self.deconv = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1)
        self.up = nn.Upsample(scale_factor=2, mode="bilinear")

    def forward(self, x):
        x = self.gap(self.avg(self.pool(F.elu(self.conv(x), alpha=0.5))))
        x = x.view(x.size(0), 2, 4, 4)
        return torch.sigmoid(self.up(self.deconv(x)))


class ResidualMLP(nn.Module):
    """Residual blocks `x + self.block(x)`, layer norm, torch.add and a concatenation."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.stem = nn.Linear(8, width)
        self.block1 = nn.Sequential(nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Linear(width, width))
        self.block2 = nn.Sequential(nn.LayerNorm(width, eps=1e-4), nn.Linear(width, width), nn.GELU())
        self.side = nn.Linear(8, 4)
        self.head = nn.Linear(width + 4, 3)

    def forward(self, x):
        h = self.stem(x)
        h = h + self.block1(h)
        h = torch.add(h, self.block2(h))
        return self.head(torch.cat([F.relu(h), self.side(x)], dim=1))


class BiLSTMTagger(nn.Module):
    """One tag per token: `out, _ = self.lstm(x)`."""

    def __init__(self, vocab: int = 30, tags: int = 5):
        super().__init__()
        self.embed = nn.Embedding(vocab, 12, padding_idx=0)
        self.lstm = nn.LSTM(12, 16, num_layers=2, bidirectional=True, batch_first=True, dropout=0.1)
        self.tag = nn.Linear(32, tags)

    def forward(self, tokens):
        out, _ = self.lstm(self.embed(tokens))
        return self.tag(out)


class GRUClassifier(nn.Module):
    """Many-to-one twice: the final state h[-1] of a GRU, and the last step out[:, -1] of a bidirectional RNN."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(4, 10, num_layers=2, batch_first=True)
        self.rnn = nn.RNN(4, 6, batch_first=True, bidirectional=True, nonlinearity="relu")
        self.head = nn.Linear(22, 2)

    def forward(self, x):
        _, h = self.gru(x)
        seq, _ = self.rnn(x)
        return self.head(torch.cat((h[-1], seq[:, -1, :]), dim=-1))


class LSTMLastState(nn.Module):
    """`_, (h, c) = self.lstm(x)`, then h[-1]."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 8, batch_first=True)
        self.fc = nn.Linear(8, 1)

    def forward(self, x):
        _, (h, c) = self.lstm(x)
        return self.fc(h[-1])


class TwoInputs(nn.Module):
    """Two forward arguments, both read only by linear layers, and two results."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(6, 4), nn.Linear(3, 4)

    def forward(self, x, y, mask=None):
        joined = self.a(x) + self.b(y)
        return joined, joined.softmax(dim=1)



class MixedOps(nn.Module):
    """The less common spellings: identity, contiguous, methods, in-place calls on last use, functional adaptive
    pooling, nearest upsampling, softmax modules."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.keep = nn.Identity()
        self.up = nn.Upsample(scale_factor=2)
        self.act = nn.LeakyReLU(0.3, inplace=True)
        self.fc = nn.Linear(32, 6)
        self.probs = nn.Softmax(dim=1)

    def forward(self, x):
        h = self.keep(self.conv(x)).contiguous()
        h = F.adaptive_avg_pool2d(torch.relu(h.add(h.sigmoid())), (1, 2))
        h = self.act(self.up(h))
        h = F.elu(h.flatten(1), inplace=True)
        return self.probs(self.fc(h)), torch.log_softmax(h, dim=-1)

@fx.wrap
def swish(x):
    return x * torch.sigmoid(x)


class Unsupported(nn.Module):
    """Everything here lacks a faithful LayerLoom layer."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 4, 3, padding=1, padding_mode="reflect")
        self.lstm = nn.LSTM(4, 8)
        self.prelu = nn.PReLU()
        self.fc = nn.Linear(8, 8)
        self.scale = nn.Parameter(torch.ones(8))

    def forward(self, x):
        x = torch.sin(self.conv(x)).transpose(1, 2)
        out, _ = self.lstm(x)
        y = swish(self.prelu(out[:, -1]))
        return self.fc(self.fc(y) * 2) + self.scale


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        if x.sum() > 0:
            return self.fc(x)
        return x


class TiedWeights(nn.Module):
    """A language-model head that reuses the embedding matrix, and a layer applied twice."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 8)
        self.mix = nn.Linear(8, 8)
        self.decode = nn.Linear(8, 20, bias=False)
        self.decode.weight = self.embed.weight

    def forward(self, tokens):
        return self.decode(self.mix(self.mix(self.embed(tokens))))


class Misfits(nn.Module):
    """Calls that trace but would change their meaning: an in-place ReLU on a tensor used again, the backward
    direction's final state, a constant, softmax and flatten across the batch, dropout fixed in training mode."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 16)
        self.relu = nn.ReLU(inplace=True)
        self.gru = nn.GRU(4, 4, batch_first=True, bidirectional=True)
        self.soft = nn.Softmax(dim=0)

    def forward(self, x):
        h = self.fc(x)
        skip = self.relu(h) + h
        _, state = self.gru(x.view(x.size(0), 4, 4))
        return skip, state[-1], self.soft(x + 1), torch.flatten(h), F.dropout(h, 0.1, self.training)


class MixesSamples(nn.Module):
    """x.view(-1, 8) on samples of 16 values: two rows per sample."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 16)

    def forward(self, x):
        return self.fc(x).view(-1, 8)


class ReservedNames(nn.Module):
    """Submodules named like the output node and like an attribute of a compiled model."""

    def __init__(self):
        super().__init__()
        self.output_names = nn.Linear(4, 4)
        self.output = nn.Linear(4, 2)

    def forward(self, x):
        return self.output(self.output_names(x))


class ViewAlias(nn.Module):
    """An in-place ReLU on a view of a tensor that is used again (issue 12, defect 12a)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 6)

    def forward(self, x):
        a = self.fc(x)
        return torch.cat([F.relu(a.view(a.size(0), -1), inplace=True), a], 1)


class IdentityAlias(nn.Module):
    """nn.Identity passes the same tensor on, so the in-place ReLU after it changes the skip too."""

    def __init__(self):
        super().__init__()
        self.fc, self.keep, self.relu = nn.Linear(4, 4), nn.Identity(), nn.ReLU(inplace=True)

    def forward(self, x):
        h = self.fc(x)
        return self.relu(self.keep(h)) + h


class InPlaceOnly(nn.Module):
    """An in-place call whose result is not used: its effect on h is."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        h = self.fc(x)
        h.relu_()
        return h


class EvalOnlySoftmax(nn.Module):
    """Code that runs only in eval mode (issue 12, defect 12b)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        x = self.fc(x)
        if not self.training:
            x = torch.softmax(x, 1)
        return x


class UnusedLayer(nn.Module):
    """A layer that forward never calls (issue 12, defect 12c)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.unused = nn.Linear(4, 1000)

    def forward(self, x):
        return self.fc(x)


def with_statistics(module: nn.Module) -> nn.Module:
    """The module with running statistics away from (0, 1), so that batch norm in eval mode is really tested."""
    with torch.no_grad():
        for key, buffer in module.named_buffers():
            if buffer.is_floating_point():
                buffer.uniform_(0.5, 1.5) if key.endswith("var") else buffer.normal_()
    return module
