#!/usr/bin/python3
"""Probe models: one PyTorch export idiom each, to see which stage of hq (calib, convert, check,
compile) takes it. Not committed as test data; bench/generality/probe.sh runs them and
README.md records the results. Input [batch, 1, 28, 28], random seed-0 weights, opset 13.

Usage: /usr/bin/python3 bench/generality/export_probes.py OUT_DIR
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class AvgPoolDefault(nn.Module):
    """nn.AvgPool2d(2) with the default count_include_pad=True: exported as Pad + AveragePool."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.pool = nn.AvgPool2d(2)

    def forward(self, x):
        return self.pool(torch.relu(self.conv(x)))


class ChannelShuffle(nn.Module):
    """ShuffleNet's channel shuffle: Reshape, Transpose, Reshape on a 4-D activation."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 1, groups=2)

    def forward(self, x):
        y = torch.relu(self.conv1(x))
        n, c, h, w = y.shape
        y = y.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)
        return self.conv2(y)


class SplitBranches(nn.Module):
    """torch.chunk on channels (Split), two branches, concat back."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.a = nn.Conv2d(4, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 4, 1)

    def forward(self, x):
        y = torch.relu(self.conv1(x))
        p, q = torch.chunk(y, 2, dim=1)
        return torch.cat([torch.relu(self.a(p)), torch.relu(self.b(q))], 1)


class InterpolateSize(nn.Module):
    """F.interpolate(size=...) bilinear, align_corners=True (Resize with a sizes input)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(8, 1, 3, padding=1)

    def forward(self, x):
        y = torch.relu(self.conv1(x))
        y = F.interpolate(y, size=(28, 28), mode="bilinear", align_corners=True)
        return self.conv2(y)


class UpsampleX4(nn.Module):
    """nn.Upsample(scale_factor=4, nearest) after two stride-2 convs."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.up = nn.Upsample(scale_factor=4, mode="nearest")
        self.conv3 = nn.Conv2d(8, 1, 3, padding=1)

    def forward(self, x):
        return self.conv3(self.up(torch.relu(self.conv2(torch.relu(self.conv1(x))))))


class SigmoidTanhHead(nn.Module):
    """Sigmoid and Tanh activations, Sub, MaxPool 3x3 stride 1 pad 1, GlobalMaxPool."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.pool = nn.MaxPool2d(3, 1, 1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        y = torch.sigmoid(self.conv1(x)) - torch.tanh(self.conv2(torch.relu(self.conv1(x))))
        y = F.adaptive_max_pool2d(self.pool(y), 1)
        return self.fc(torch.flatten(y, 1))


PROBES = {
    "avgpool_default": AvgPoolDefault,
    "channel_shuffle": ChannelShuffle,
    "split_branches": SplitBranches,
    "interpolate_size": InterpolateSize,
    "upsample_x4": UpsampleX4,
    "sigmoid_tanh_sub": SigmoidTanhHead,
}


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out_dir, exist_ok=True)
    for name, cls in PROBES.items():
        torch.manual_seed(0)
        model = cls().eval()
        x = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(2))
        path = os.path.join(out_dir, name + ".float.onnx")
        torch.onnx.export(model, x, path, opset_version=13, input_names=["input"],
                          output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
        print(path)


if __name__ == "__main__":
    main()
