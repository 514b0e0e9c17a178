"""Triton python model ``edgeinpaint_finish``: the weights' composite, then the encoded picture.

The fused model always pastes; weights served with the Poisson composite (config parameter
``composite``) get it here, from the graph's ``raw`` output: edgeinpaint.core.blend.finish_fused,
the function ``edgeinpaint run --fused`` calls. The picture is a PNG (edgeinpaint's zlib level).
"""

import json

import numpy as np
import triton_python_backend_utils as pb_utils

from edgeinpaint.core.blend import finish_fused
from edgeinpaint.core.images import PNG_COMPRESSION, encode_bytes


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        self.composite = config["parameters"]["composite"]["string_value"]

    def execute(self, requests):
        responses = []
        for request in requests:
            got = {
                n: pb_utils.get_input_tensor_by_name(request, n).as_numpy() for n in ("image", "mask", "output", "raw")
            }
            pictures = []
            for b in range(len(got["image"])):
                hole = got["mask"][b, ..., 0] > 127
                picture = finish_fused(got["output"][b], got["raw"][b], got["image"][b], hole, self.composite)
                pictures.append([encode_bytes(picture, "PNG", png_compression=PNG_COMPRESSION)])
            out = pb_utils.Tensor("PICTURE", np.array(pictures, dtype=np.object_))
            responses.append(pb_utils.InferenceResponse(output_tensors=[out]))
        return responses
