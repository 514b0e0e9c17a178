"""EdgeConnect networks as plain torch modules (state_dict keys = the official checkpoints')."""

from edgeinpaint.models.blocks import Architecture
from edgeinpaint.models.discriminator import Discriminator
from edgeinpaint.models.edge_generator import EdgeGenerator
from edgeinpaint.models.inpaint_generator import InpaintGenerator

__all__ = ["Architecture", "Discriminator", "EdgeGenerator", "InpaintGenerator"]
