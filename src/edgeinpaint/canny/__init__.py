"""Canny edges with skimage semantics: the reference (skimage) and the exact tensor graph."""
