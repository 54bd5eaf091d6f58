"""Using a trained model: ONNX export and torch-free inference, the HTTP server, batch
prediction of large files."""
