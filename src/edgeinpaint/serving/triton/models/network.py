"""Triton python model: an exported ONNX network on ONNX Runtime (CPU), for servers without the onnxruntime backend.

Written by `edgeinpaint export --triton --triton-backend python` beside ``model.onnx``; the inputs
and outputs are the ones config.pbtxt declares (checked against the ONNX graph at export).
Python backend API: github.com/triton-inference-server/python_backend ("Usage").
"""

import json
import os

import numpy as np
import onnxruntime
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        folder = os.path.join(args["model_repository"], args["model_version"])
        name = config["parameters"]["onnx_file"]["string_value"]
        options = onnxruntime.SessionOptions()
        self.session = onnxruntime.InferenceSession(
            os.path.join(folder, name), options, providers=["CPUExecutionProvider"]
        )
        self.inputs = [t["name"] for t in config["input"]]
        self.outputs = [t["name"] for t in config["output"]]

    def execute(self, requests):
        responses = []
        for request in requests:
            feeds = {name: pb_utils.get_input_tensor_by_name(request, name).as_numpy() for name in self.inputs}
            try:
                got = self.session.run(self.outputs, feeds)
            except Exception as exc:  # a bad shape is the request's error, never the server's
                responses.append(
                    pb_utils.InferenceResponse(error=pb_utils.TritonError(str(exc), pb_utils.TritonError.INVALID_ARG))
                )
                continue
            tensors = [pb_utils.Tensor(n, np.ascontiguousarray(v)) for n, v in zip(self.outputs, got, strict=True)]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
        return responses
