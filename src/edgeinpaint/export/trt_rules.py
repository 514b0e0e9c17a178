"""TensorRT's ONNX parser: which operators it takes and for which tensor types (data, not logic).

Transcribed from onnx-tensorrt ``docs/operators.md`` at the ONNX-TensorRT 10.1 GA release
(github.com/onnx/onnx-tensorrt, commit 96e7811, 2024-06-17; "TensorRT 10.0 supports operators in the
inclusive range of opset 9 to opset 20"). Only the operator names and supported-type columns are kept;
the restrictions the exporter relies on are checked in export/trt_check.py, each citing this table.
"""

from __future__ import annotations

#: Version of the document the tables below come from.
SOURCE = "onnx-tensorrt docs/operators.md, ONNX-TensorRT 10.1 GA (commit 96e7811)"
#: Opsets the parser accepts.
OPSET_RANGE = (9, 20)


def _names(text: str) -> list[str]:
    """Operator names written as the matrix lists them, space-separated."""
    return text.split()


# The matrix's type columns, grouped: most operators take one of these sets.
FLOAT = ("FP32", "FP16", "BF16")
NUMERIC = (*FLOAT, "INT32", "INT64")
ANY = (*NUMERIC, "BOOL")

#: Operator -> tensor types it supports (the matrix's "Supported Types" column), one entry per type set.
SUPPORTED: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        _names(
            "Acos Acosh Asin Asinh Atan Atanh AveragePool BatchNormalization Ceil Celu Clip Conv ConvTranspose "
            "Cos Cosh CumSum Dropout Einsum Elu Erf Exp Floor GRU Gemm GlobalAveragePool GlobalLpPool "
            "GlobalMaxPool GroupNormalization HardSigmoid HardSwish Hardmax ImageScaler InstanceNormalization "
            "IsInf LRN LSTM LayerNormalization LeakyRelu Log LogSoftmax LpNormalization LpPool MatMul MaxPool "
            "MeanVarianceNormalization PRelu ParametricSoftplus Pow QuantizeLinear RNN RandomNormal "
            "RandomNormalLike RandomUniform RandomUniformLike Reciprocal Resize Round ScaledTanh Scan Selu "
            "Sigmoid Sin Sinh Softmax Softplus Softsign Sqrt Tan Tanh ThresholdedRelu Upsample"
        ),
        FLOAT,
    ),
    **dict.fromkeys(
        _names(
            "Abs Add ArgMax ArgMin DepthToSpace Div Equal Greater GreaterOrEqual IsNaN Less LessOrEqual Max Min "
            "Mod Mul Neg Pad Range ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin "
            "ReduceProd ReduceSum ReduceSumSquare Relu Scatter ScatterElements ScatterND Shrink Sign SpaceToDepth "
            "Sub Sum TopK"
        ),
        NUMERIC,
    ),
    **dict.fromkeys(
        _names(
            "Concat Constant ConstantOfShape Expand EyeLike Flatten Gather GatherElements GatherND Identity If "
            "Loop OneHot Reshape ReverseSequence Shape Size Slice Split Squeeze Tile Transpose Trilu Unsqueeze "
            "Where"
        ),
        ANY,
    ),
    **dict.fromkeys(_names("DeformConv GridSample Mish NonMaxSuppression NonZero RoiAlign"), ("FP32", "FP16")),
    **dict.fromkeys(_names("And Not Or Xor"), ("BOOL",)),
    "Cast": (*NUMERIC, "UINT8", "BOOL"),
    "CastLike": (*NUMERIC, "UINT8", "BOOL"),
    "DequantizeLinear": ("INT8", "FP8", "INT4"),
    "Gelu": (*FLOAT, "INT8", "INT32", "INT64"),
    "Mean": (*FLOAT, "FP8", "INT32", "INT64"),
}
#: Operators the matrix lists as unsupported.
UNSUPPORTED: frozenset[str] = frozenset(
    _names(
        "AffineGrid Bernoulli BitShift BitwiseAnd BitwiseNot BitwiseOr BitwiseXor BlackmanWindow "
        "CenterCropPad Col2Im Compress ConcatFromSequence ConvInteger DFT Det DynamicQuantizeLinear "
        "HammingWindow HannWindow ImageDecoder MatMulInteger MaxRoiPool MaxUnpool MelWeightMatrix Multinomial "
        "NegativeLogLikelihoodLoss Optional OptionalGetElement OptionalHasElement QLinearConv QLinearMatMul "
        "RegexFullMatch STFT SequenceAt SequenceConstruct SequenceEmpty SequenceErase SequenceInsert "
        "SequenceLength SequenceMap SoftmaxCrossEntropyLoss SplitToSequence StringConcat StringNormalizer "
        "StringSplit TfIdfVectorizer Unique"
    )
)
