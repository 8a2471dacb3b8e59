"""Model classes for testdata/convert (imported by generate.py and, through
--model-class or unpickling, by mlops convert's tests)."""
import torch
from torch import nn


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(16, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 4))

    def forward(self, x):
        return self.net(x)


class CNN(nn.Module):
    """Conv + BatchNorm blocks: the exporter keeps BatchNormalization or
    folds it, both must match PyTorch in eval mode."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        return self.head(torch.flatten(self.features(x), 1))


class SeqModel(nn.Module):
    """Token ids [batch, seq] -> per-token logits [batch, seq, 5]: dynamic
    batch and sequence axes."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(4, 8)
        self.mix = nn.Linear(8, 8)
        self.out = nn.Linear(8, 5)

    def forward(self, ids):
        h = torch.tanh(self.mix(self.emb(ids)))
        h = h - h.mean(dim=1, keepdim=True)  # depends on the sequence length
        return self.out(h)
