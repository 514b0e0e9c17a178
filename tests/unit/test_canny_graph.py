"""The Canny graph reproduces skimage.feature.canny exactly (float64 graph) or nearly (float32 graph)."""

from __future__ import annotations

import numpy as np
import pytest

from edgeinpaint.canny.graph import build_canny_model, gaussian_kernel
from edgeinpaint.canny.reference import canny_reference
from edgeinpaint.canny.stage import GraphCanny
from edgeinpaint.core.images import rgb_to_gray
from tests.conftest import hole_mask, photo


@pytest.fixture(scope="module")
def graphs() -> dict[float, GraphCanny]:
    return {s: GraphCanny(build_canny_model(s, 0.1, 0.2, exact=True)) for s in (1.0, 2.0, 3.0, 4.0)}


def gray_of(name: str, size: int | None) -> np.ndarray:
    return rgb_to_gray(photo(name, size) / 255.0)


def test_gaussian_kernel_matches_scipy() -> None:
    from scipy.ndimage import _filters

    for sigma in (0.8, 1.0, 2.0, 3.3):
        radius = int(4.0 * sigma + 0.5)
        assert np.array_equal(gaussian_kernel(sigma), _filters._gaussian_kernel1d(sigma, 0, radius))


@pytest.mark.parametrize("sigma", [1.0, 2.0, 3.0, 4.0])
@pytest.mark.parametrize("name,shape", [("astronaut", (301, 257)), ("coffee", (200, 333)), ("chelsea", None)])
def test_bit_exact_on_photos(
    graphs: dict[float, GraphCanny], sigma: float, name: str, shape: tuple[int, int] | None
) -> None:
    import cv2

    gray = gray_of(name, None)
    if shape is not None:
        gray = cv2.resize(gray, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    for known in (np.ones(gray.shape, bool), ~hole_mask(*gray.shape, seed=int(sigma))):
        ref = canny_reference(gray, sigma, 0.1, 0.2, known=known)
        got = graphs[sigma](gray, known)
        assert ref.sum() > 0
        assert np.array_equal(got, ref)


def test_mask_none_equals_all_known(graphs: dict[float, GraphCanny]) -> None:
    gray = gray_of("astronaut", 96)
    assert np.array_equal(
        graphs[2.0](gray, np.ones(gray.shape, bool)), canny_reference(gray, 2.0, 0.1, 0.2, known=None)
    )


def test_edge_cases(graphs: dict[float, GraphCanny]) -> None:
    g = graphs[2.0]
    gray = gray_of("astronaut", 64)
    cases = {
        "all hole": (gray, np.zeros(gray.shape, bool)),
        "no hole": (gray, np.ones(gray.shape, bool)),
        "hole on border": (gray, np.pad(np.ones((54, 54), bool), 5)),
        "left half hole": (gray, np.arange(64)[None, :].repeat(64, 0) > 20),
        "constant": (np.full((40, 40), 0.5), np.ones((40, 40), bool)),
        "black": (np.zeros((40, 40)), np.ones((40, 40), bool)),
        "12x12": (gray[:12, :12], np.ones((12, 12), bool)),
        "12x12 holed": (gray[20:32, 20:32], np.eye(12, dtype=bool) == 0),
        "step": (np.kron(np.eye(2), np.ones((16, 16))), np.ones((32, 32), bool)),
    }
    for label, (img, known) in cases.items():
        ref = canny_reference(img, 2.0, 0.1, 0.2, known=known)
        assert np.array_equal(g(img, known), ref), label


def test_batch_with_different_masks(graphs: dict[float, GraphCanny]) -> None:
    g = graphs[2.0]
    grays = np.stack([gray_of(n, 80) for n in ("astronaut", "coffee", "chelsea")])[:, None]
    knowns = np.stack([~hole_mask(80, 80, seed=s) for s in range(3)])[:, None]
    got = g.batch(grays, knowns)
    for i in range(3):
        assert np.array_equal(got[i, 0], canny_reference(grays[i, 0], 2.0, 0.1, 0.2, known=knowns[i, 0]))


def test_thresholds_follow_skimage_rounding() -> None:
    """skimage compares the low threshold as a C float; the graph must keep/drop the same pixels."""
    gray = gray_of("coffee", 128)
    for low, high in ((0.05, 0.1), (0.1, 0.3), (0.15, 0.15)):
        g = GraphCanny(build_canny_model(2.0, low, high))
        known = np.ones(gray.shape, bool)
        assert np.array_equal(g(gray, known), canny_reference(gray, 2.0, low, high, known=known))


def test_float32_graph_f1() -> None:
    """The float32 graphs (TensorRT/fused: MaxPool hysteresis; ``--canny fast``: bit-parallel)
    differ from skimage only at float rounding (F1 >= 0.999) and agree with each other exactly."""
    maxpool = GraphCanny(build_canny_model(2.0, 0.1, 0.2, exact=False))
    bits = GraphCanny(build_canny_model(2.0, 0.1, 0.2, exact=False, hysteresis="bits"))
    for i, name in enumerate(("astronaut", "coffee", "chelsea")):
        gray = gray_of(name, 256 - 37 * i)
        known = ~hole_mask(*gray.shape, seed=i)
        ref = canny_reference(gray, 2.0, 0.1, 0.2, known=known)
        got = maxpool(gray, known)
        f1 = 2 * (got & ref).sum() / (got.sum() + ref.sum())
        assert f1 >= 0.999, name
        assert np.array_equal(bits(gray, known), got), name


def test_graph_variants_use_the_ops_their_runtime_has() -> None:
    # TensorRT's parser has no BitShift/Bitwise* (onnx-tensorrt docs/operators.md): its graph keeps
    # MaxPool and opset 17; the ONNX Runtime graphs use opset 18 bitwise ops.
    trt = build_canny_model(2.0, 0.1, 0.2, exact=False)
    assert trt.opset_import[0].version == 17
    assert not {n.op_type for n in trt.graph.node} & {"BitShift", "BitwiseOr", "BitwiseAnd", "Where"}
    for model in (build_canny_model(2.0, 0.1, 0.2), build_canny_model(2.0, 0.1, 0.2, exact=False, hysteresis="bits")):
        assert model.opset_import[0].version == 18
        assert {p.key: p.value for p in model.metadata_props}["canny_hysteresis"] == "bits"
    with pytest.raises(ValueError, match="hysteresis"):
        build_canny_model(2.0, 0.1, 0.2, hysteresis="scan")


def test_onnx_checker_and_metadata() -> None:
    import onnx

    model = build_canny_model(2.5, 0.1, 0.2)
    onnx.checker.check_model(model, full_check=True)
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["canny_sigma"] == "2.5"
    assert {n.op_type for n in model.graph.node} >= {"Loop", "MaxPool", "BitShift"}
