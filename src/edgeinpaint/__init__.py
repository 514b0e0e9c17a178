"""edgeinpaint: fast, faithful, deployable EdgeConnect image inpainting."""

__version__ = "0.1.0"
