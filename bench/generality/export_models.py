#!/usr/bin/python3
"""Export the held-out generality zoo: small CNNs of architectures hq was not written against.

Each model takes a Fashion-MNIST-shaped input `input` [batch, 1, 28, 28] (resnet_rgb:
[batch, 3, 20, 36]) with the shared models' conventions (opset 13, dynamic batch axis named
"batch", eval-mode export, so PyTorch folds BatchNormalization into the convolutions) and is
exported with random (seed 0) weights:
these models exist to exercise hq-check / hq-compile / the simulator, not to classify.

  resnet_mini      stem conv+BN+ReLU, three BasicBlocks (identity shortcut; two with a 1x1
                   stride-2 projection shortcut), global average pool, Linear(32, 10)
  squeezenet_mini  conv, max pools (one with ceil_mode as SqueezeNet's), three Fire modules
                   (squeeze 1x1, expand 1x1 and 3x3 concatenated on channels), 1x1 conv
                   classifier + ReLU + global average pool + flatten
  unet_mini        encoder 28 -> 14 -> 7 with stride-2 convs; decoder 7 -> 14 with
                   ConvTranspose (k2 s2), 14 -> 28 with nn.Upsample nearest and bilinear
                   (two branches, concatenated); skip connections by channel concat;
                   output `mask` [batch, 1, 28, 28]
  mixed_mini       the rest of the float op set: depthwise-separable conv + ReLU6, grouped
                   conv, dilated conv, 5x5 kernel, LeakyReLU, HardSwish, squeeze-excite
                   (Hardsigmoid gate, broadcast Mul), AveragePool, a residual Add of two
                   branches, Softmax output `probs`
  misc_mini        stride-2 convs, nn.Upsample x4 nearest, Sigmoid and Tanh branches combined
                   by Sub and an elementwise Mul, MaxPool 3x3/1 pad 1; output `map`
                   [batch, 1, 28, 28]
  resnet_rgb       resnet_mini on a non-square 3-channel input [batch, 3, 20, 36] (odd sizes
                   after the stride-2 blocks: 10x18, 5x9); calibrated on
                   bench/generality/fashion-mnist-calib-rgb-20x36.json

Usage: /usr/bin/python3 bench/generality/export_models.py OUT_DIR
"""
import os
import sys

import torch
import torch.nn as nn


def conv_bn(cin, cout, k, stride=1, pad=None):
    if pad is None:
        pad = k // 2
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, pad, bias=False), nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = conv_bn(cin, cout, 3, stride)
        self.conv2 = conv_bn(cout, cout, 3, 1)
        self.relu = nn.ReLU()
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = conv_bn(cin, cout, 1, stride, 0)

    def forward(self, x):
        y = self.relu(self.conv1(x))
        y = self.conv2(y)
        s = x if self.shortcut is None else self.shortcut(x)
        return self.relu(y + s)


class ResNetMini(nn.Module):
    def __init__(self, in_channels=1):
        super().__init__()
        self.stem = nn.Sequential(conv_bn(in_channels, 8, 3), nn.ReLU())
        self.layer1 = BasicBlock(8, 8, 1)    # identity shortcut, 28x28
        self.layer2 = BasicBlock(8, 16, 2)   # 1x1 stride-2 projection, 14x14
        self.layer3 = BasicBlock(16, 32, 2)  # 1x1 stride-2 projection, 7x7
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


class Fire(nn.Module):
    def __init__(self, cin, squeeze, expand):
        super().__init__()
        self.squeeze = nn.Conv2d(cin, squeeze, 1)
        self.expand1 = nn.Conv2d(squeeze, expand, 1)
        self.expand3 = nn.Conv2d(squeeze, expand, 3, padding=1)
        self.relu = nn.ReLU()

    def forward(self, x):
        s = self.relu(self.squeeze(x))
        return torch.cat([self.relu(self.expand1(s)), self.relu(self.expand3(s))], 1)


class SqueezeNetMini(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2, 2),                                # 28 -> 14
            Fire(16, 4, 8), Fire(16, 8, 16),
            nn.MaxPool2d(3, 2, ceil_mode=True),                # 14 -> 7 (ceil_mode)
            Fire(32, 8, 32))
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Conv2d(64, 10, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


class UNetMini(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc1 = nn.Sequential(conv_bn(1, 8, 3), nn.ReLU())              # 28
        self.enc2 = nn.Sequential(conv_bn(8, 16, 3, 2), nn.ReLU())          # 14
        self.enc3 = nn.Sequential(conv_bn(16, 32, 3, 2), nn.ReLU())         # 7
        self.up3 = nn.ConvTranspose2d(32, 16, 2, stride=2)                  # 7 -> 14
        self.dec2 = nn.Sequential(conv_bn(32, 16, 3), nn.ReLU())            # cat(up3, enc2)
        self.up_nearest = nn.Upsample(scale_factor=2, mode="nearest")       # 14 -> 28
        self.up_bilinear = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.reduce = nn.Conv2d(16, 4, 1)
        self.dec1 = nn.Sequential(conv_bn(4 + 4 + 8, 8, 3), nn.ReLU())      # cat(n, b, enc1)
        self.head = nn.Conv2d(8, 1, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        d2 = self.dec2(torch.cat([self.up3(e3), e2], 1))
        r = self.reduce(d2)
        d1 = self.dec1(torch.cat([self.up_nearest(r), self.up_bilinear(r), e1], 1))
        return self.head(d1)


class SqueezeExcite(nn.Module):
    def __init__(self, c, r):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, r, 1)
        self.fc2 = nn.Conv2d(r, c, 1)
        self.relu = nn.ReLU()
        self.gate = nn.Hardsigmoid()

    def forward(self, x):
        return x * self.gate(self.fc2(self.relu(self.fc1(self.pool(x)))))


class MixedMini(nn.Module):
    """The rest of the float op set in one classifier: depthwise-separable conv with ReLU6,
    grouped conv, dilated conv, 5x5 kernel, LeakyReLU, HardSwish, a squeeze-excite gate
    (broadcast Mul), average pooling, a plain (unfused) residual Add, Softmax output."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(conv_bn(1, 16, 5, 1, 2), nn.LeakyReLU(0.1))       # 28
        self.dw = nn.Sequential(nn.Conv2d(16, 16, 3, 2, 1, groups=16), nn.BatchNorm2d(16),
                                nn.ReLU6())                                        # 14
        self.pw = nn.Sequential(conv_bn(16, 32, 1), nn.Hardswish())
        self.group = nn.Sequential(nn.Conv2d(32, 32, 3, 1, 1, groups=4), nn.ReLU())
        self.dilated = nn.Sequential(nn.Conv2d(32, 32, 3, 1, 2, dilation=2), nn.ReLU())
        self.se = SqueezeExcite(32, 8)
        # count_include_pad=False: the default exports a Pad with all-zero pads first (not an
        # op hq runs; see README.md).
        self.pool = nn.AvgPool2d(2, count_include_pad=False)                        # 7
        self.head = nn.Linear(32, 10)

    def forward(self, x):
        x = self.pw(self.dw(self.stem(x)))
        y = self.group(x) + self.dilated(x)
        y = self.pool(self.se(y))
        y = torch.flatten(nn.functional.adaptive_avg_pool2d(y, 1), 1)
        return torch.softmax(self.head(y), 1)


class MiscMini(nn.Module):
    """Idioms the others lack, as a dense-prediction net: stride-2 convs 28 -> 14 -> 7,
    nn.Upsample x4 (nearest) 7 -> 28, Sigmoid and Tanh branches combined by Sub and by an
    elementwise (non-broadcast) Mul, MaxPool 3x3 stride 1 pad 1, 1x1 head: output `map`."""

    def __init__(self):
        super().__init__()
        self.down1 = nn.Sequential(conv_bn(1, 8, 3, 2), nn.ReLU())     # 14
        self.down2 = nn.Sequential(conv_bn(8, 16, 3, 2), nn.ReLU())    # 7
        self.up = nn.Upsample(scale_factor=4, mode="nearest")          # 28
        self.a = nn.Conv2d(16, 8, 3, padding=1)
        self.b = nn.Conv2d(16, 8, 3, padding=1)
        self.pool = nn.MaxPool2d(3, 1, 1)
        self.head = nn.Conv2d(8, 1, 1)

    def forward(self, x):
        u = self.up(self.down2(self.down1(x)))
        d = torch.sigmoid(self.a(u)) - torch.tanh(self.b(u))
        return self.head(self.pool(d) * d)


MODELS = {  # name: (constructor, output name, input shape of one frame)
    "resnet_mini": (ResNetMini, "logits", (1, 28, 28)),
    "squeezenet_mini": (SqueezeNetMini, "logits", (1, 28, 28)),
    "unet_mini": (UNetMini, "mask", (1, 28, 28)),
    "mixed_mini": (MixedMini, "probs", (1, 28, 28)),
    "misc_mini": (MiscMini, "map", (1, 28, 28)),
    "resnet_rgb": (lambda: ResNetMini(3), "logits", (3, 20, 36)),
}


def randomize_bn(model, gen):
    # Fresh BatchNorm layers are identities (mean 0, var 1, weight 1, bias 0); give them
    # running statistics and affine parameters so the folded convolutions are not trivial.
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=gen) * 0.5 + 0.75)
            m.weight.data.copy_(torch.rand(n, generator=gen) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out_dir, exist_ok=True)
    for name, (cls, out_name, frame) in MODELS.items():
        torch.manual_seed(0)
        model = cls()
        with torch.no_grad():
            randomize_bn(model, torch.Generator().manual_seed(1))
        model.eval()
        x = torch.randn(2, *frame, generator=torch.Generator().manual_seed(2))
        path = os.path.join(out_dir, name + ".float.onnx")
        torch.onnx.export(model, x, path, opset_version=13, input_names=["input"],
                          output_names=[out_name],
                          dynamic_axes={"input": {0: "batch"}, out_name: {0: "batch"}})
        params = sum(p.numel() for p in model.parameters())
        print(f"{path}: {params} parameters, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
