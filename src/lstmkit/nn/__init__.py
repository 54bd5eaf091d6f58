"""The networks: plain ``torch.nn`` modules, no training logic."""

from .network import LSTMNetwork, NetworkConfig, Output

__all__ = ["LSTMNetwork", "NetworkConfig", "Output"]
