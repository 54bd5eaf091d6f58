"""What lstmkit writes and reads back: model directories, safe file writes, the model card."""
