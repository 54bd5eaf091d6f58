"""The version of lstmkit, in a module of its own: every module that records it (saved
models, ONNX metadata, model cards, the server) imports it from here, below everything
else, and the package (``lstmkit.__version__``) re-exports it."""

__version__ = "0.3.0.dev0"
