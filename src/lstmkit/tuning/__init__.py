"""Hyperparameter search over a run config's ``search`` section (Optuna)."""
