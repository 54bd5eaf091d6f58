"""The data path: sources -> validation -> split -> scaling -> window index -> batches."""
