"""Export: ONNX graphs, precision variants, manifest, parity checks."""
