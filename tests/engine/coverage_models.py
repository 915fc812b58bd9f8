"""Small modules written as torchvision and the textbooks write them, one per construct of issue 16's coverage list.

The torchvision ones follow torchvision's own code (BSD-3-Clause) closely: what matters is that the importer sees
the same calls, in the same spelling.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import fx, nn


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """torchvision's ShuffleNetV2 channel shuffle: sizes read from x.size()."""
    batchsize, num_channels, height, width = x.size()
    channels_per_group = num_channels // groups
    x = x.view(batchsize, groups, channels_per_group, height, width)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(batchsize, -1, height, width)


class ShuffleBlock(nn.Module):
    """ShuffleNetV2's stride-1 unit: chunk, a branch, cat, shuffle; then a mean over the image and x.shape[1]."""

    def __init__(self, channels: int = 8):
        super().__init__()
        half = channels // 2
        self.branch2 = nn.Sequential(
            nn.Conv2d(half, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True),
            nn.Conv2d(half, half, 3, padding=1, groups=half, bias=False), nn.BatchNorm2d(half),
        )
        self.fc = nn.Linear(channels, 3)

    def forward(self, x):
        x1, x2 = x.chunk(2, dim=1)
        out = channel_shuffle(torch.cat((x1, self.branch2(x2)), dim=1), 2)
        pooled = out.mean([2, 3])
        return self.fc(pooled.reshape(pooled.shape[0], out.shape[1]))


class SqueezeExcitation(nn.Module):
    """torchvision.ops.SqueezeExcitation as MobileNetV3 uses it: a broadcast multiply by a hardsigmoid gate."""

    def __init__(self, channels: int = 8, squeeze: int = 4):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.activation = nn.ReLU()
        self.scale_activation = nn.Hardsigmoid()

    def forward(self, input):
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(input)))))
        return scale * input


class SENet(nn.Module):
    """A conv stem, hardswish, a squeeze-excitation block, global pooling and a classifier."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.Hardswish())
        self.se = SqueezeExcitation()
        self.classifier = nn.Sequential(nn.Linear(8, 16), nn.Hardswish(), nn.Dropout(0.2, inplace=True),
                                        nn.Linear(16, 4))

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.se(self.stem(x)), 1)
        return self.classifier(torch.flatten(x, 1))


class Fire(nn.Module):
    """SqueezeNet's fire module after a ceil-mode max pool."""

    def __init__(self):
        super().__init__()
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)
        self.squeeze = nn.Conv2d(3, 4, 1)
        self.expand1x1 = nn.Conv2d(4, 6, 1)
        self.expand3x3 = nn.Conv2d(4, 6, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.head = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(12, 5, 1), nn.ReLU(inplace=True),
                                  nn.AdaptiveAvgPool2d((1, 1)))

    def forward(self, x):
        x = self.relu(self.squeeze(self.pool(x)))
        x = torch.cat([self.relu(self.expand1x1(x)), self.relu(self.expand3x3(x))], 1)
        return torch.flatten(self.head(x), 1)


class InvertedResidual(nn.Module):
    """MobileNetV2's block with ReLU6, and EfficientNet's SiLU, as functions and modules."""

    def __init__(self, channels: int = 6, expand: int = 12):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(channels, expand, 1, bias=False), nn.BatchNorm2d(expand), nn.ReLU6(inplace=True),
            nn.Conv2d(expand, expand, 3, padding=1, groups=expand, bias=False), nn.BatchNorm2d(expand),
            nn.SiLU(inplace=True),
            nn.Conv2d(expand, channels, 1, bias=False), nn.BatchNorm2d(channels),
        )

    def forward(self, x):
        y = x + self.conv(x)
        return F.hardswish(F.relu6(y)) + F.silu(F.hardsigmoid(y))


@fx.wrap
def stochastic_depth(input: torch.Tensor, p: float, mode: str, training: bool = True) -> torch.Tensor:
    """torchvision.ops.stochastic_depth, which torchvision wraps for fx in the same way."""
    if not training or p == 0.0:
        return input
    survival_rate = 1.0 - p
    size = [input.shape[0]] + [1] * (input.ndim - 1) if mode == "row" else [1] * input.ndim
    noise = torch.empty(size, dtype=input.dtype, device=input.device)
    noise = noise.bernoulli_(survival_rate)
    if survival_rate > 0.0:
        noise.div_(survival_rate)
    return input * noise


stochastic_depth.__module__ = "torchvision.ops.stochastic_depth"  # the name the importer knows it by


class LayerNorm2d(nn.LayerNorm):
    """torchvision's ConvNeXt LayerNorm2d: permute, F.layer_norm with the module's weights, permute back."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class CNBlock(nn.Module):
    """ConvNeXt's block: a layer-scale parameter used directly, stochastic depth, result += input."""

    def __init__(self, dim: int = 8):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.layer_scale = nn.Parameter(torch.full((dim, 1, 1), 0.5))
        self.stem_norm = LayerNorm2d(dim, eps=1e-6)

    def forward(self, input):
        input = self.stem_norm(input)
        x = self.mlp(self.norm(self.dwconv(input).permute(0, 2, 3, 1))).permute(0, 3, 1, 2)
        result = self.layer_scale * x
        result = stochastic_depth(result, 0.3, "row", self.training)
        result += input
        return result


class TokenMixer(nn.Module):
    """A ViT without attention: patches, a class token (expand), a positional table, functional dropout and
    layer norm, transpose, the class token back with x[:, 0]."""

    def __init__(self, dim: int = 8, patches: int = 4):
        super().__init__()
        self.conv_proj = nn.Conv2d(3, dim, 4, stride=4)
        self.class_token = nn.Parameter(torch.randn(1, 1, dim))
        self.pos_embedding = nn.Parameter(torch.randn(1, patches + 1, dim))
        self.mix = nn.Linear(patches + 1, patches + 1)
        self.ln_weight = nn.Parameter(torch.rand(dim) + 0.5)
        self.ln_bias = nn.Parameter(torch.randn(dim))
        self.head = nn.Linear(dim, 3)

    def forward(self, x):
        n, c, h, w = x.shape
        torch._assert(h == 8, "wrong image height")
        x = self.conv_proj(x).reshape(n, self.class_token.shape[-1], (h // 4) * (w // 4)).permute(0, 2, 1)
        x = torch.cat([self.class_token.expand(n, -1, -1), x], dim=1) + self.pos_embedding
        x = F.dropout(x, 0.1, self.training)
        x = x + self.mix(x.transpose(1, 2)).transpose(1, 2)
        x = F.layer_norm(x, (x.shape[-1],), self.ln_weight, self.ln_bias, 1e-6)
        return self.head(x[:, 0])


class DenseBlock(nn.Module):
    """DenseNet's block (torch.cat of a list that starts with one tensor), and one tensor used twice: y + y,
    torch.cat((y, y), 1)."""

    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Sequential(nn.BatchNorm2d(2 + 3 * i), nn.ReLU(inplace=True),
                                                   nn.Conv2d(2 + 3 * i, 3, 3, padding=1)) for i in range(3)])

    def forward(self, x):
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, 1)))
        y = torch.cat(features, 1)
        return torch.cat((y, y), 1) * (y + y).mean(1, keepdim=True)


class RNNLM(nn.Module):
    """d2l.ai's concise RNN language model: F.one_hot(X.T).type(float32), a time-major nn.RNN with an optional
    initial state, the output swapped back to batch-first."""

    def __init__(self, vocab: int = 12, hidden: int = 16):
        super().__init__()
        self.vocab = vocab
        self.rnn = nn.RNN(vocab, hidden)
        self.linear = nn.Linear(hidden, vocab)

    def forward(self, X, state=None):
        embs = F.one_hot(X.T, self.vocab).type(torch.float32)
        rnn_outputs, _ = self.rnn(embs, state)
        return torch.swapaxes(self.linear(rnn_outputs), 0, 1)


class WordLM(nn.Module):
    """PyTorch's word_language_model example: time-major token ids, dropout, an initial state argument, the
    returned state, decoded.view(-1, ntoken)."""

    def __init__(self, ntoken: int = 20, ninp: int = 8, nhid: int = 12, nlayers: int = 2, dropout: float = 0.2):
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.GRU(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        decoded = self.decoder(self.drop(output))
        decoded = decoded.view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden


class Seq2Seq(nn.Module):
    """d2l's encoder-decoder: X.t().type(int64) into embeddings, the encoder's final (h, c) as the decoder's
    initial state, the output transposed back."""

    def __init__(self):
        super().__init__()
        self.src, self.tgt = nn.Embedding(10, 6), nn.Embedding(10, 6)
        self.enc, self.dec = nn.LSTM(6, 8), nn.LSTM(6, 8)
        self.out = nn.Linear(8, 10)

    def forward(self, source, target):
        _, state = self.enc(self.src(source.t().type(torch.int64)))
        out, _ = self.dec(self.tgt(target.T), state)
        return self.out(out).transpose(0, 1)


class Blockers(nn.Module):
    """Several blockers, one after another on the same path: each is listed with its line."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 6)
        self.prelu = nn.PReLU()

    def forward(self, x):
        h = torch.sin(self.fc(x)).view(x.size(0), 2, 3).T
        h = self.prelu(h)
        return torch.cumsum(h, 1) * 2
