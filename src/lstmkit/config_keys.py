"""The sections of a run config and the keys each takes, one list per section.

Read by the config reader (``lstmkit.config``) and by the search space
(``lstmkit.search``), which may vary the model and training keys.
"""

from __future__ import annotations

import dataclasses

from .train_config import TrainConfig

SECTIONS = ("data", "spec", "model", "training", "split", "test", "tracking", "run_dir", "search")
MODEL_KEYS = ("hidden", "layers", "bidirectional", "dropout", "decoder", "heads", "instance_norm",
              "checkpoint_steps", "segment", "channel_independent", "conv")
TRAINING_KEYS = tuple(f.name for f in dataclasses.fields(TrainConfig))
SOURCE_KEYS = ("path", "dataset", "part", "data_dir")
FLOAT_KEYS = {"dropout", "lr", "lr_decay", "weight_decay", "grad_clip"}
