"""The networks match EDGECONNECT.md: parameter counts, official keys, shapes, spectral-norm folding."""

from __future__ import annotations

import torch

from edgeinpaint.models import Architecture, Discriminator, EdgeGenerator, InpaintGenerator
from edgeinpaint.models.blocks import fold_spectral_norm, fold_weight


def count(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters() if p.requires_grad)


def test_paper_parameter_counts() -> None:
    assert count(EdgeGenerator()) == 10_761_089
    assert count(InpaintGenerator()) == 10_774_595


def test_edge_generator_official_keys() -> None:
    keys = set(EdgeGenerator().state_dict())
    assert {"encoder.1.weight_orig", "encoder.1.weight_u", "encoder.1.weight_v", "encoder.1.bias"} <= keys
    assert "decoder.0.weight_u" in keys and "decoder.7.weight" in keys and "decoder.7.bias" in keys
    # resblock convs carry no bias under spectral norm
    assert "middle.0.conv_block.1.weight_orig" in keys and "middle.0.conv_block.1.bias" not in keys
    assert "middle.7.conv_block.5.weight_orig" in keys
    # ConvTranspose spectral norm runs over dim 1: u has out-channel entries
    assert EdgeGenerator().state_dict()["decoder.0.weight_u"].shape == (128,)


def test_inpaint_generator_keys_and_bias() -> None:
    keys = set(InpaintGenerator().state_dict())
    assert "middle.0.conv_block.1.bias" in keys and "encoder.1.weight" in keys
    assert not any(k.endswith("weight_orig") for k in keys)


def test_discriminator_duplicate_feature_keys_and_outputs() -> None:
    d = Discriminator(3)
    keys = list(d.state_dict())
    assert "features.0.weight_orig" in keys and "conv1.0.weight_orig" in keys
    out, feats = d(torch.rand(2, 3, 64, 64))
    assert out.shape == (2, 1, 6, 6) and len(feats) == 5
    assert float(out.min()) >= 0 and float(out.max()) <= 1


def test_generator_shapes_and_ranges() -> None:
    arch = Architecture(8, 1)
    x = torch.rand(2, 1, 44, 60)
    e = EdgeGenerator(arch).eval().predict(x, (x > 0.5).float(), (x > 0.8).float())
    assert e.shape == (2, 1, 44, 60) and float(e.min()) >= 0 and float(e.max()) <= 1
    i = InpaintGenerator(arch).eval().predict(torch.rand(2, 3, 44, 60), e, (x > 0.8).float())
    assert i.shape == (2, 3, 44, 60) and float(i.min()) >= 0 and float(i.max()) <= 1


def test_fold_matches_spectral_norm_forward() -> None:
    torch.manual_seed(0)
    arch = Architecture(8, 2)
    sn = EdgeGenerator(arch)
    with torch.no_grad():
        for _ in range(3):
            sn(torch.rand(1, 3, 32, 32))  # move u, v away from init
    sn.eval()
    plain = EdgeGenerator(arch, use_spectral_norm=False)
    plain.load_state_dict(fold_spectral_norm(sn))
    x = torch.rand(2, 3, 48, 48)
    with torch.no_grad():
        assert torch.allclose(sn(x), plain(x), atol=1e-5)


def test_fold_weight_uses_stored_vectors_not_svd() -> None:
    w = torch.randn(4, 3, 3, 3)
    u, v = torch.randn(4), torch.randn(27)
    sigma = torch.dot(u, w.reshape(4, -1) @ v)
    assert torch.allclose(fold_weight(w, u, v, 0), w / sigma, atol=1e-6)
    # ConvTranspose: (in, out, k, k) with dim 1
    wt = torch.randn(6, 4, 2, 2)
    ut, vt = torch.randn(4), torch.randn(24)
    sigma_t = torch.dot(ut, wt.permute(1, 0, 2, 3).reshape(4, -1) @ vt)
    assert torch.allclose(fold_weight(wt, ut, vt, 1), wt / sigma_t, atol=1e-6)
