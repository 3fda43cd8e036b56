"""frkit_nets.py: frkit's known architectures in PyTorch, with TFace's module names
(so state_dict keys are frkit's parameter names). Used by scripts/make-ref-nets.py
(the goldens) and bench/torch_gpu.py (the GPU baseline runs the same networks).
"""
import torch
import torch.nn as nn


# ---------------------------------------------------------------- TFace IR / IR-SE
class SE(nn.Module):
    def __init__(self, c, r=16):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, c // r, 1, bias=False)
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv2d(c // r, c, 1, bias=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        return x * self.sigmoid(self.fc2(self.relu(self.fc1(self.avg_pool(x)))))


class Unit(nn.Module):
    def __init__(self, cin, depth, stride, se):
        super().__init__()
        if cin == depth:
            self.shortcut_layer = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(nn.Conv2d(cin, depth, 1, stride, bias=False), nn.BatchNorm2d(depth))
        layers = [nn.BatchNorm2d(cin), nn.Conv2d(cin, depth, 3, 1, 1, bias=False), nn.BatchNorm2d(depth),
                  nn.PReLU(depth), nn.Conv2d(depth, depth, 3, stride, 1, bias=False), nn.BatchNorm2d(depth)]
        if se:
            layers.append(SE(depth))
        self.res_layer = nn.Sequential(*layers)

    def forward(self, x):
        return self.res_layer(x) + self.shortcut_layer(x)


class IR(nn.Module):
    def __init__(self, units, depths, se, size, emb):
        super().__init__()
        self.input_layer = nn.Sequential(nn.Conv2d(3, depths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(depths[0]),
                                         nn.PReLU(depths[0]))
        blocks, cin = [], depths[0]
        for n, d in zip(units, depths):
            for k in range(n):
                blocks.append(Unit(cin, d, 2 if k == 0 else 1, se))
                cin = d
        self.body = nn.Sequential(*blocks)
        side = size // 2 ** len(units)
        self.output_layer = nn.Sequential(nn.BatchNorm2d(cin), nn.Dropout(0.4), nn.Flatten(),
                                          nn.Linear(cin * side * side, emb), nn.BatchNorm1d(emb, affine=False))

    def forward(self, x):
        return self.output_layer(self.body(self.input_layer(x)))


# ---------------------------------------------------------------- TFace MobileFaceNet (GDC)
class ConvBlock(nn.Module):
    def __init__(self, cin, cout, k=1, s=1, p=0, g=1, prelu=True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, s, p, groups=g, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.prelu = nn.PReLU(cout) if prelu else None

    def forward(self, x):
        x = self.bn(self.conv(x))
        return self.prelu(x) if self.prelu is not None else x


class DepthWise(nn.Module):
    def __init__(self, cin, cout, g, s, residual):
        super().__init__()
        self.conv = ConvBlock(cin, g, 1)
        self.conv_dw = ConvBlock(g, g, 3, s, 1, g)
        self.project = ConvBlock(g, cout, 1, prelu=False)
        self.residual = residual

    def forward(self, x):
        y = self.project(self.conv_dw(self.conv(x)))
        return x + y if self.residual else y


class Residual(nn.Module):
    def __init__(self, c, blocks, g):
        super().__init__()
        self.model = nn.Sequential(*[DepthWise(c, c, g, 1, True) for _ in range(blocks)])

    def forward(self, x):
        return self.model(x)


class GDC(nn.Module):
    def __init__(self, c, side, emb):
        super().__init__()
        self.conv_6_dw = ConvBlock(c, c, side, 1, 0, c, prelu=False)
        self.conv_6_flatten = nn.Flatten()
        self.linear = nn.Linear(c, emb, bias=False)
        self.bn = nn.BatchNorm1d(emb, affine=False)

    def forward(self, x):
        return self.bn(self.linear(self.conv_6_flatten(self.conv_6_dw(x))))


class MFN(nn.Module):
    def __init__(self, size, emb, c1, c2, c6, g1, g2, g3, r3, r4, r5):
        super().__init__()
        self.conv1 = ConvBlock(3, c1, 3, 2, 1)
        self.conv2_dw = ConvBlock(c1, c1, 3, 1, 1, c1)
        self.conv_23 = DepthWise(c1, c1, g1, 2, False)
        self.conv_3 = Residual(c1, r3, g1)
        self.conv_34 = DepthWise(c1, c2, g2, 2, False)
        self.conv_4 = Residual(c2, r4, g2)
        self.conv_45 = DepthWise(c2, c2, g3, 2, False)
        self.conv_5 = Residual(c2, r5, g2)
        self.conv_6_sep = ConvBlock(c2, c6, 1)
        self.output_layer = GDC(c6, size // 16, emb)

    def forward(self, x):
        for m in [self.conv1, self.conv2_dw, self.conv_23, self.conv_3, self.conv_34, self.conv_4, self.conv_45,
                  self.conv_5, self.conv_6_sep, self.output_layer]:
            x = m(x)
        return x


# ---------------------------------------------------------------- ResNet for 32x32
class Basic(nn.Module):
    def __init__(self, cin, w, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, w, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.conv2 = nn.Conv2d(w, w, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(w)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != w:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, w, 1, stride, bias=False), nn.BatchNorm2d(w))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, units, widths, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        cin = widths[0]
        for s, (n, w) in enumerate(zip(units, widths)):
            blocks = []
            for k in range(n):
                blocks.append(Basic(cin, w, 2 if (k == 0 and s > 0) else 1))
                cin = w
            setattr(self, f"layer{s + 1}", nn.Sequential(*blocks))
        self.nstages = len(units)
        self.linear = nn.Linear(cin, classes)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        for s in range(self.nstages):
            x = getattr(self, f"layer{s + 1}")(x)
        return self.linear(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))
