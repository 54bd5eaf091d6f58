"""Looking at a model over time and in pictures: rolling-origin backtests, plots."""
