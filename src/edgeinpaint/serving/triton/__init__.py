"""Triton Inference Server: the model repository writer, its schema and its checker."""
