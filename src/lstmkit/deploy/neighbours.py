"""The nearest neighbours' answers of sequence classification inside the exported graph.

What ``FittedPipeline.decoded`` adds to the network's outputs where a model answers with its
nearest training sequences, in torch ops that trace to ONNX: the blend of the network's
class probabilities with the neighbours' soft vote (``neighbour_vote``, ``lstmkit.vote``),
or the nearest one's label (``neighbour_targets``, models saved before the vote). A
sequence is z-normalised over its own ``lengths`` steps and linearly resampled to the
reference length as ``baselines.z_normalised`` does, and its distances to the references
(a constant of the graph: float32, ``references x length x channels`` numbers) are
computed in float64 as ``baselines.class_distances`` computes them.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..baselines import NearestNeighbour
from ..errors import ConfigError

MAX_BYTES = 1 << 30      # the references a graph holds; ONNX files stop at 2 GB (protobuf)


def check_size(neighbours: NearestNeighbour) -> None:
    """Raise ConfigError where the reference set is too large for an ONNX graph."""
    size = neighbours.references.nbytes
    if size > MAX_BYTES:
        m, length, channels = neighbours.references.shape
        raise ConfigError(f"this model answers with its {m:,} nearest-neighbour sequences of "
                          f"{length} steps x {channels} channels ({size / 2**20:,.1f} MiB), "
                          f"more than an ONNX graph holds ({MAX_BYTES / 2**20:,.1f} MiB here); "
                          "predict with the model itself (save / load, lstmkit serve)")


class NeighbourAnswers(nn.Module):
    """Distances of sequences to a reference set, and the answers they give.

    Args:
        neighbours: the fitted reference set (``FittedPipeline.neighbours``).
        numeric: the positions of the numeric inputs among the network's input columns.

    Example:
        >>> answers = NeighbourAnswers(pipeline.neighbours, [0, 1, 2])
        >>> squared = answers.squared(x, lengths)        # (B, references)
        >>> answers.vote(squared, 0, classes, scale)     # (B, classes)
    """

    def __init__(self, neighbours: NearestNeighbour, numeric: list[int]) -> None:
        super().__init__()
        m, self.length, channels = neighbours.references.shape
        self.numeric = numeric
        flat = torch.from_numpy(neighbours.references.reshape(m, self.length * channels))
        self.register_buffer("references", flat.clone())                      # float32
        self.register_buffer("norms", (flat.double() ** 2).sum(1))            # (m,) float64
        codes = torch.from_numpy(neighbours.targets).double().nan_to_num(-1).long()   # (m, T)
        self.register_buffer("codes", codes)
        # per target, the references of each class code (None: the class has none)
        self.members = [[torch.nonzero(codes[:, j] == k)[:, 0] if (codes[:, j] == k).any()
                         else None for k in range(int(codes[:, j].max()) + 1)]
                        for j in range(codes.shape[1])]

    def squared(self, x: Tensor, lengths: Tensor) -> Tensor:
        """Squared distances (B, references), float64, of sequences ``x`` (B, steps,
        network inputs; padding zeroed) of ``lengths`` (B,) steps."""
        values = x[..., self.numeric].double()                                  # (B, T, C)
        steps = torch.arange(values.shape[1], device=x.device)
        valid = (steps[None, :] < lengths[:, None])[..., None]
        n = lengths.double()[:, None, None]
        mean = torch.where(valid, values, 0.0).sum(1, keepdim=True) / n
        centred = torch.where(valid, values - mean, 0.0)
        std = ((centred * centred).sum(1, keepdim=True) / n).sqrt()
        z = torch.where(std > 0, centred / torch.where(std > 0, std, 1.0), 0.0)
        # linspace(0, steps - 1, length) per row, as baselines._resampled
        step = (lengths.double() - 1) / max(self.length - 1, 1)
        position = torch.arange(self.length, device=x.device).double()[None] * step[:, None]
        low = position.floor().long()
        high = torch.minimum(low + 1, lengths[:, None] - 1)
        weight = (position - low.double())[..., None]
        index = (low[..., None].expand(-1, -1, z.shape[2]),
                 high[..., None].expand(-1, -1, z.shape[2]))
        resampled = torch.gather(z, 1, index[0]) * (1 - weight) + \
            torch.gather(z, 1, index[1]) * weight
        q = resampled.float().double().flatten(1)      # float32, as the references
        return (q * q).sum(1)[:, None] + self.norms[None, :] - \
            2 * q @ self.references.double().T

    def vote(self, squared: Tensor, target: int, classes: int, scale: float) -> Tensor:
        """Target ``target``'s vote (B, classes), float64 (``vote.votes``): each class's
        probability falls as ``exp(-distance / scale)`` to its nearest reference."""
        members = self.members[target] + [None] * classes
        inf = torch.full_like(squared[:, 0], float("inf"))
        nearest = [inf if members[k] is None else squared[:, members[k].to(inf.device)].amin(1)
                   for k in range(classes)]
        distances = torch.maximum(torch.stack(nearest, 1), torch.zeros_like(inf)[:, None]).sqrt()
        e = torch.exp(-(distances - distances.amin(1, keepdim=True)) / scale)
        return e / e.sum(1, keepdim=True)

    def nearest_codes(self, squared: Tensor, target: int) -> Tensor:
        """Target ``target``'s class code (B,) of each sequence's nearest reference (the
        first of equals), -1 where it has none."""
        return self.codes[:, target][squared.argmin(1)]
