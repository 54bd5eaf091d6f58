"""The sections of a run config and the keys each takes, one list per section.

Read by the config reader (``lstmkit.cli.config``) and by the search space
(``lstmkit.tuning.search``), which may vary the model and training keys. Those keys are
``LSTMModel``'s parameters, declared in ``lstmkit.hyperparams``.
"""

from __future__ import annotations

from ..hyperparams import OWN_SECTION, PARAMS, Architecture, floats, names

SECTIONS = ("data", "spec", "model", "training", "split", "test", "tracking", "run_dir",
            "init_from", "search")
MODEL_KEYS = names(Architecture)
# The training and hardware parameters, but those with a section of their own (split).
TRAINING_KEYS = tuple(k for k in PARAMS if k not in MODEL_KEYS and k not in OWN_SECTION)
SOURCE_KEYS = ("path", "dataset", "part", "data_dir")
FLOAT_KEYS = floats()
