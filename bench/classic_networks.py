"""Sixteen classic networks as Dive into Deep Learning (d2l.ai, PyTorch edition 1.0, code under MIT-0) writes
them, with the book's lazy layers and spelling; d2l's Module and Classifier plumbing (plots, hyperparameters) is
left out, since it adds nothing a traced forward sees. `NETWORKS` maps a name to (constructor, sample shape,
input dtype); bench/import_coverage.py imports each one."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def lenet():
    return nn.Sequential(
        nn.LazyConv2d(6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.LazyConv2d(16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(), nn.LazyLinear(120), nn.Sigmoid(), nn.LazyLinear(84), nn.Sigmoid(), nn.LazyLinear(10))


def bn_lenet():
    return nn.Sequential(
        nn.LazyConv2d(6, kernel_size=5), nn.LazyBatchNorm2d(), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.LazyConv2d(16, kernel_size=5), nn.LazyBatchNorm2d(), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(), nn.LazyLinear(120), nn.LazyBatchNorm1d(), nn.Sigmoid(), nn.LazyLinear(84), nn.LazyBatchNorm1d(),
        nn.Sigmoid(), nn.LazyLinear(10))


def alexnet():
    return nn.Sequential(
        nn.LazyConv2d(96, kernel_size=11, stride=4, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.LazyConv2d(256, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.LazyConv2d(384, kernel_size=3, padding=1), nn.ReLU(), nn.LazyConv2d(384, kernel_size=3, padding=1),
        nn.ReLU(), nn.LazyConv2d(256, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(), nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(p=0.5), nn.LazyLinear(4096), nn.ReLU(),
        nn.Dropout(p=0.5), nn.LazyLinear(10))


def vgg_block(num_convs, out_channels):
    layers = []
    for _ in range(num_convs):
        layers.append(nn.LazyConv2d(out_channels, kernel_size=3, padding=1))
        layers.append(nn.ReLU())
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def vgg11():
    blocks = [vgg_block(*b) for b in ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))]
    return nn.Sequential(*blocks, nn.Flatten(), nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(0.5), nn.LazyLinear(4096),
                         nn.ReLU(), nn.Dropout(0.5), nn.LazyLinear(10))


def nin_block(out_channels, kernel_size, strides, padding):
    return nn.Sequential(
        nn.LazyConv2d(out_channels, kernel_size, strides, padding), nn.ReLU(),
        nn.LazyConv2d(out_channels, kernel_size=1), nn.ReLU(), nn.LazyConv2d(out_channels, kernel_size=1), nn.ReLU())


def nin():
    return nn.Sequential(
        nin_block(96, kernel_size=11, strides=4, padding=0), nn.MaxPool2d(3, stride=2),
        nin_block(256, kernel_size=5, strides=1, padding=2), nn.MaxPool2d(3, stride=2),
        nin_block(384, kernel_size=3, strides=1, padding=1), nn.MaxPool2d(3, stride=2), nn.Dropout(0.5),
        nin_block(10, kernel_size=3, strides=1, padding=1), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())


class Inception(nn.Module):
    def __init__(self, c1, c2, c3, c4):
        super().__init__()
        self.b1_1 = nn.LazyConv2d(c1, kernel_size=1)
        self.b2_1 = nn.LazyConv2d(c2[0], kernel_size=1)
        self.b2_2 = nn.LazyConv2d(c2[1], kernel_size=3, padding=1)
        self.b3_1 = nn.LazyConv2d(c3[0], kernel_size=1)
        self.b3_2 = nn.LazyConv2d(c3[1], kernel_size=5, padding=2)
        self.b4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.b4_2 = nn.LazyConv2d(c4, kernel_size=1)

    def forward(self, x):
        b1 = F.relu(self.b1_1(x))
        b2 = F.relu(self.b2_2(F.relu(self.b2_1(x))))
        b3 = F.relu(self.b3_2(F.relu(self.b3_1(x))))
        b4 = F.relu(self.b4_2(self.b4_1(x)))
        return torch.cat((b1, b2, b3, b4), dim=1)


def googlenet():
    return nn.Sequential(
        nn.Sequential(nn.LazyConv2d(64, kernel_size=7, stride=2, padding=3), nn.ReLU(),
                      nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        nn.Sequential(nn.LazyConv2d(64, kernel_size=1), nn.ReLU(), nn.LazyConv2d(192, kernel_size=3, padding=1),
                      nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        nn.Sequential(Inception(64, (96, 128), (16, 32), 32), Inception(128, (128, 192), (32, 96), 64),
                      nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        nn.Sequential(Inception(192, (96, 208), (16, 48), 64), Inception(160, (112, 224), (24, 64), 64),
                      Inception(128, (128, 256), (24, 64), 64), Inception(112, (144, 288), (32, 64), 64),
                      Inception(256, (160, 320), (32, 128), 128), nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        nn.Sequential(Inception(256, (160, 320), (32, 128), 128), Inception(384, (192, 384), (48, 128), 128),
                      nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten()),
        nn.LazyLinear(10))


class Residual(nn.Module):
    def __init__(self, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        self.conv1 = nn.LazyConv2d(num_channels, kernel_size=3, padding=1, stride=strides)
        self.conv2 = nn.LazyConv2d(num_channels, kernel_size=3, padding=1)
        self.conv3 = nn.LazyConv2d(num_channels, kernel_size=1, stride=strides) if use_1x1conv else None
        self.bn1 = nn.LazyBatchNorm2d()
        self.bn2 = nn.LazyBatchNorm2d()

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3:
            X = self.conv3(X)
        Y += X
        return F.relu(Y)


def resnet18():
    def block(num_residuals, num_channels, first_block=False):
        return nn.Sequential(*[Residual(num_channels, use_1x1conv=i == 0 and not first_block,
                                        strides=2 if i == 0 and not first_block else 1) for i in range(num_residuals)])
    return nn.Sequential(
        nn.Sequential(nn.LazyConv2d(64, kernel_size=7, stride=2, padding=3), nn.LazyBatchNorm2d(), nn.ReLU(),
                      nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        block(2, 64, first_block=True), block(2, 128), block(2, 256), block(2, 512),
        nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.LazyLinear(10)))


class DenseBlock(nn.Module):
    def __init__(self, num_convs, num_channels):
        super().__init__()
        self.net = nn.Sequential(*[nn.Sequential(nn.LazyBatchNorm2d(), nn.ReLU(),
                                                 nn.LazyConv2d(num_channels, kernel_size=3, padding=1))
                                   for _ in range(num_convs)])

    def forward(self, X):
        for blk in self.net:
            Y = blk(X)
            X = torch.cat((X, Y), dim=1)
        return X


def densenet():
    def transition(num_channels):
        return nn.Sequential(nn.LazyBatchNorm2d(), nn.ReLU(), nn.LazyConv2d(num_channels, kernel_size=1),
                             nn.AvgPool2d(kernel_size=2, stride=2))
    layers, channels = [nn.Sequential(nn.LazyConv2d(64, kernel_size=7, stride=2, padding=3), nn.LazyBatchNorm2d(),
                                      nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2, padding=1))], 64
    for i, num_convs in enumerate((4, 4, 4, 4)):
        layers.append(DenseBlock(num_convs, 32))
        channels += num_convs * 32
        if i != 3:
            channels //= 2
            layers.append(transition(channels))
    return nn.Sequential(*layers, nn.Sequential(nn.LazyBatchNorm2d(), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)),
                                                nn.Flatten(), nn.LazyLinear(10)))


class ResNeXtBlock(nn.Module):
    def __init__(self, num_channels, groups, bot_mul, use_1x1conv=False, strides=1):
        super().__init__()
        bot_channels = int(round(num_channels * bot_mul))
        self.conv1 = nn.LazyConv2d(bot_channels, kernel_size=1, stride=1)
        self.conv2 = nn.LazyConv2d(bot_channels, kernel_size=3, stride=strides, padding=1,
                                   groups=bot_channels // groups)
        self.conv3 = nn.LazyConv2d(num_channels, kernel_size=1, stride=1)
        self.bn1, self.bn2, self.bn3 = nn.LazyBatchNorm2d(), nn.LazyBatchNorm2d(), nn.LazyBatchNorm2d()
        if use_1x1conv:
            self.conv4 = nn.LazyConv2d(num_channels, kernel_size=1, stride=strides)
            self.bn4 = nn.LazyBatchNorm2d()
        else:
            self.conv4 = None

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = F.relu(self.bn2(self.conv2(Y)))
        Y = self.bn3(self.conv3(Y))
        if self.conv4:
            X = self.bn4(self.conv4(X))
        return F.relu(Y + X)


def regnetx32():
    """d2l's AnyNet with the RegNetX-32 settings of section 8.8."""
    def stage(depth, num_channels, groups, bot_mul):
        return nn.Sequential(*[ResNeXtBlock(num_channels, groups, bot_mul, use_1x1conv=i == 0, strides=2 if i == 0
                                            else 1) for i in range(depth)])
    return nn.Sequential(
        nn.Sequential(nn.LazyConv2d(32, kernel_size=3, stride=2, padding=1), nn.LazyBatchNorm2d(), nn.ReLU()),
        stage(4, 32, 16, 1), stage(6, 80, 16, 1),
        nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.LazyLinear(10)))


def mlp():
    return nn.Sequential(nn.Flatten(), nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(10))


def dropout_layer(X, dropout):
    assert 0 <= dropout <= 1
    if dropout == 1:
        return torch.zeros_like(X)
    mask = (torch.rand(X.shape) > dropout).float()
    return mask * X / (1.0 - dropout)


class DropoutMLPScratch(nn.Module):
    """Section 5.6's dropout from scratch: a random mask drawn only while training."""

    def __init__(self, num_outputs=10, num_hiddens_1=256, num_hiddens_2=256, dropout_1=0.5, dropout_2=0.5):
        super().__init__()
        self.dropout_1, self.dropout_2 = dropout_1, dropout_2
        self.lin1, self.lin2 = nn.LazyLinear(num_hiddens_1), nn.LazyLinear(num_hiddens_2)
        self.lin3 = nn.LazyLinear(num_outputs)
        self.relu = nn.ReLU()

    def forward(self, X):
        H1 = self.relu(self.lin1(X.reshape((X.shape[0], -1))))
        if self.training:
            H1 = dropout_layer(H1, self.dropout_1)
        H2 = self.relu(self.lin2(H1))
        if self.training:
            H2 = dropout_layer(H2, self.dropout_2)
        return self.lin3(H2)


class RNNScratch(nn.Module):
    """Section 9.5's RNN from scratch: a Python loop over the time steps."""

    def __init__(self, num_inputs, num_hiddens, sigma=0.01):
        super().__init__()
        self.num_hiddens = num_hiddens
        self.W_xh = nn.Parameter(torch.randn(num_inputs, num_hiddens) * sigma)
        self.W_hh = nn.Parameter(torch.randn(num_hiddens, num_hiddens) * sigma)
        self.b_h = nn.Parameter(torch.zeros(num_hiddens))

    def forward(self, inputs, state=None):
        if state is None:
            state = torch.zeros((inputs.shape[1], self.num_hiddens), device=inputs.device)
        else:
            state, = state
        outputs = []
        for X in inputs:
            state = torch.tanh(torch.matmul(X, self.W_xh) + torch.matmul(state, self.W_hh) + self.b_h)
            outputs.append(state)
        return outputs, state


class RNNLMScratch(nn.Module):
    def __init__(self, rnn, vocab_size, sigma=0.01):
        super().__init__()
        self.rnn, self.vocab_size = rnn, vocab_size
        self.W_hq = nn.Parameter(torch.randn(rnn.num_hiddens, vocab_size) * sigma)
        self.b_q = nn.Parameter(torch.zeros(vocab_size))

    def one_hot(self, X):
        return F.one_hot(X.T, self.vocab_size).type(torch.float32)

    def output_layer(self, rnn_outputs):
        outputs = [torch.matmul(H, self.W_hq) + self.b_q for H in rnn_outputs]
        return torch.stack(outputs, 1)

    def forward(self, X, state=None):
        embs = self.one_hot(X)
        rnn_outputs, _ = self.rnn(embs, state)
        return self.output_layer(rnn_outputs)


class RNN(nn.Module):
    """d2l.RNN: a wrapper around a time-major torch recurrent layer."""

    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, inputs, H=None):
        return self.rnn(inputs, H)


class RNNLM(RNNLMScratch):
    """Section 9.6's concise language model, also with d2l's deep GRU (10.3) and LSTM (10.1)."""

    def __init__(self, rnn, vocab_size):
        nn.Module.__init__(self)
        self.rnn, self.vocab_size = rnn, vocab_size
        self.linear = nn.LazyLinear(vocab_size)

    def output_layer(self, hiddens):
        return torch.swapaxes(self.linear(hiddens), 0, 1)


class Seq2SeqEncoder(nn.Module):
    """Section 10.7's encoder: embeddings of X.t() cast to int64, a deep GRU; returns the outputs and the state."""

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = RNN(nn.GRU(embed_size, num_hiddens, num_layers, dropout=dropout))

    def forward(self, X, *args):
        embs = self.embedding(X.t().type(torch.int64))
        outputs, state = self.rnn(embs)
        return outputs, state


VOCAB, STEPS, HIDDEN = 28, 32, 32  # The Time Machine's characters, and the book's sizes
NETWORKS = {
    "LeNet (7.6)": (lenet, (1, 28, 28), "float32"),
    "LeNet with batch norm (8.5)": (bn_lenet, (1, 28, 28), "float32"),
    "AlexNet (8.1)": (alexnet, (1, 224, 224), "float32"),
    "VGG-11 (8.2)": (vgg11, (1, 224, 224), "float32"),
    "NiN (8.3)": (nin, (1, 224, 224), "float32"),
    "GoogLeNet (8.4)": (googlenet, (1, 96, 96), "float32"),
    "ResNet-18 (8.6)": (resnet18, (1, 96, 96), "float32"),
    "DenseNet (8.7)": (densenet, (1, 96, 96), "float32"),
    "RegNetX-32 (8.8)": (regnetx32, (1, 96, 96), "float32"),
    "MLP (5.2)": (mlp, (1, 28, 28), "float32"),
    "Dropout from scratch (5.6)": (DropoutMLPScratch, (1, 28, 28), "float32"),
    "RNN language model from scratch (9.5)": (lambda: RNNLMScratch(RNNScratch(VOCAB, HIDDEN), VOCAB), (STEPS,), "int64"),
    "RNN language model (9.6)": (lambda: RNNLM(RNN(nn.RNN(VOCAB, HIDDEN)), VOCAB), (STEPS,), "int64"),
    "Deep GRU language model (10.3)": (lambda: RNNLM(RNN(nn.GRU(VOCAB, HIDDEN, 2)), VOCAB), (STEPS,), "int64"),
    "LSTM language model (10.1)": (lambda: RNNLM(RNN(nn.LSTM(VOCAB, HIDDEN)), VOCAB), (STEPS,), "int64"),
    "Seq2seq encoder (10.7)": (lambda: Seq2SeqEncoder(VOCAB, 8, HIDDEN, 2, 0.1), (STEPS,), "int64"),
}
