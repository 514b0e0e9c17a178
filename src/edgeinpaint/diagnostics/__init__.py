"""Diagnostics: what this machine can run (``edgeinpaint doctor``)."""
