"""Weights: our safetensors format, official-checkpoint import, bundled weights."""
