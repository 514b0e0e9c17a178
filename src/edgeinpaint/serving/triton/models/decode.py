"""Triton python model ``edgeinpaint_decode``: encoded image + mask files -> uint8 RGB + mask (255 = hole).

The local run's decoder (edgeinpaint.runtime.loading.load_pair: EXIF orientation, gray and palette
images, 16-bit rounded to 8 bits as the fused model sees them, a mask of another size resized with
nearest neighbour). A bad file is that request's error (Triton answers 400 with the message).
"""

import numpy as np
import triton_python_backend_utils as pb_utils

from edgeinpaint.core.errors import EdgeInpaintError
from edgeinpaint.core.stages import as_uint8
from edgeinpaint.runtime.loading import LoadOptions, load_pair


class TritonPythonModel:
    def initialize(self, args):
        self.options = LoadOptions()

    def execute(self, requests):
        responses = []
        for request in requests:
            images = pb_utils.get_input_tensor_by_name(request, "IMAGE").as_numpy()
            masks = pb_utils.get_input_tensor_by_name(request, "MASK").as_numpy()
            try:
                if len(images) != 1:
                    raise EdgeInpaintError(f"send one image per request (got a batch of {len(images)})")
                loaded = load_pair("IMAGE", "MASK", self.options, bytes(images[0, 0]), bytes(masks[0, 0]))
            except EdgeInpaintError as exc:
                responses.append(
                    pb_utils.InferenceResponse(error=pb_utils.TritonError(str(exc), pb_utils.TritonError.INVALID_ARG))
                )
                continue
            rgb8 = as_uint8(loaded.decoded.rgb)[None]
            hole = (loaded.hole.astype(np.uint8) * np.uint8(255))[None, ..., None]
            responses.append(
                pb_utils.InferenceResponse(
                    output_tensors=[pb_utils.Tensor("image", rgb8), pb_utils.Tensor("mask", hole)]
                )
            )
        return responses
