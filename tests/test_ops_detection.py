"""torchvision's detection operators native on mlu (nms, roi_align, roi_pool, ps_roi_align,
ps_roi_pool, deform_conv2d), forward and gradients against torchvision's CPU kernels, their error
paths, and detection models training with no CPU fallback."""

import pytest
import torch

torchvision = pytest.importorskip("torchvision", reason="torchvision is not installed")
ops = torchvision.ops

TOLERANCE = {
    torch.float64: dict(atol=1e-12, rtol=1e-12),
    torch.float32: dict(atol=1e-5, rtol=1e-5),
    # The CPU rounds every step to float16; mlu pools float16 in float32.
    torch.float16: dict(atol=2e-2, rtol=2e-2),
}


pytestmark = pytest.mark.usefixtures("no_cpu_fallback")


def generator(seed):
    return torch.Generator().manual_seed(seed)


def rois_for(images, count, size, seed=0, dtype=torch.float32):
    """Random boxes [K, 5] over images of side `size`, plus boxes that leave the image, are
    degenerate (zero or negative extent) or fractional, where the sampling rules differ most."""
    g = generator(seed)
    start = torch.rand(count, 2, generator=g) * size * 0.8
    extent = torch.rand(count, 2, generator=g) * size * 0.6
    image = torch.randint(0, images, (count, 1), generator=g).float()
    rois = torch.cat([image, start, start + extent], 1)
    rois[0, 1:] = torch.tensor([-3.0, -2.0, size + 5.0, size + 3.0])  # beyond every edge
    rois[1, 1:] = torch.tensor([5.0, 5.0, 5.2, 5.1])  # smaller than a pixel
    rois[2, 1:] = torch.tensor([7.0, 6.0, 4.0, 3.0])  # ends before it starts
    return rois.to(dtype)


def compare(fn, features, rois, dtype, seed=1):
    """fn(features, rois) and the features' gradient on mlu against the CPU."""
    results = []
    for device in ("cpu", "mlu"):
        x = features.to(dtype).detach().clone().to(device).requires_grad_()
        out = fn(x, rois.to(dtype).to(device))
        out = out[0] if isinstance(out, tuple) else out
        grad = torch.randn(out.shape, generator=generator(seed)).to(dtype).to(device)
        out.backward(grad)
        results.append((out.detach().cpu(), x.grad.cpu()))
    (cpu_out, cpu_grad), (mlu_out, mlu_grad) = results
    torch.testing.assert_close(mlu_out, cpu_out, equal_nan=True, **TOLERANCE[dtype])
    torch.testing.assert_close(mlu_grad, cpu_grad, equal_nan=True, **TOLERANCE[dtype])


POOLINGS = {
    "roi_align": lambda x, r: ops.roi_align(x, r, (3, 2), spatial_scale=0.5, sampling_ratio=-1),
    "roi_align_aligned": lambda x, r: ops.roi_align(
        x, r, (4, 3), spatial_scale=0.7, sampling_ratio=2, aligned=True),
    "roi_pool": lambda x, r: ops.roi_pool(x, r, (3, 2), spatial_scale=0.5),
    "ps_roi_align": lambda x, r: ops.ps_roi_align(x, r, (2, 2), spatial_scale=0.5),
    "ps_roi_pool": lambda x, r: ops.ps_roi_pool(x, r, (2, 2), spatial_scale=0.9),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", sorted(POOLINGS))
def test_roi_poolings_match_the_cpu(name, dtype):
    features = torch.randn(2, 8, 20, 24, generator=generator(3))
    compare(POOLINGS[name], features, rois_for(2, 9, 22), dtype)


@pytest.mark.parametrize("name", ["roi_align", "ps_roi_align"])
def test_roi_aligns_in_float16(name):
    features = torch.randn(2, 8, 12, 12, generator=generator(4))
    compare(POOLINGS[name], features, rois_for(2, 5, 12), torch.float16)


def test_roi_align_of_many_rois_and_channels_splits_work_consistently():
    # Enough (roi, channel) pairs for the kernel to split them between threads.
    features = torch.randn(3, 64, 16, 16, generator=generator(5))
    compare(POOLINGS["roi_align"], features, rois_for(3, 40, 16), torch.float32)


def test_roi_pooling_takes_a_list_of_boxes_per_image():
    features = torch.randn(2, 4, 10, 10, generator=generator(6))
    boxes = [torch.tensor([[1.0, 1.0, 6.0, 7.0]]), torch.tensor([[0.0, 2.0, 9.0, 9.0], [3, 3, 5, 5.0]])]
    expected = ops.roi_align(features, boxes, 3)
    actual = ops.roi_align(features.to("mlu"), [b.to("mlu") for b in boxes], 3)
    torch.testing.assert_close(actual.cpu(), expected)


def test_empty_rois_give_empty_outputs_and_zero_gradients():
    x = torch.randn(1, 4, 8, 8, device="mlu", requires_grad=True)
    out = ops.roi_align(x, torch.zeros(0, 5, device="mlu"), 2)
    assert out.shape == (0, 4, 2, 2)
    out.sum().backward()
    assert torch.equal(x.grad.cpu(), torch.zeros(1, 4, 8, 8))


def boxes_and_scores(count, seed, dtype=torch.float32):
    g = generator(seed)
    start = torch.rand(count, 2, generator=g) * 100
    boxes = torch.cat([start, start + torch.rand(count, 2, generator=g) * 30 + 1], 1)
    return boxes.to(dtype), torch.rand(count, generator=g).to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.7])
def test_nms_keeps_what_the_cpu_keeps(dtype, threshold):
    boxes, scores = boxes_and_scores(400, seed=int(threshold * 10), dtype=dtype)
    expected = ops.nms(boxes, scores, threshold)
    kept = ops.nms(boxes.to("mlu"), scores.to("mlu"), threshold)
    assert kept.device.type == "mlu" and kept.dtype == torch.int64
    assert torch.equal(kept.cpu(), expected)
    assert 0 < len(expected) < 400  # the threshold suppressed some and kept some


def test_batched_nms_and_empty_input():
    boxes, scores = boxes_and_scores(200, seed=7)
    classes = torch.randint(0, 4, (200,), generator=generator(8))
    expected = ops.batched_nms(boxes, scores, classes, 0.5)
    actual = ops.batched_nms(boxes.to("mlu"), scores.to("mlu"), classes.to("mlu"), 0.5)
    assert torch.equal(actual.cpu(), expected)
    empty = ops.nms(torch.zeros(0, 4, device="mlu"), torch.zeros(0, device="mlu"), 0.5)
    assert empty.shape == (0,) and empty.dtype == torch.int64


DEFORM_CASES = [
    # use_mask, weight groups, offset groups, stride, padding, dilation
    (True, 1, 1, 1, 1, 1),
    (False, 2, 2, 2, 0, 1),
    (True, 2, 4, 1, 2, 2),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("case", DEFORM_CASES)
def test_deform_conv2d_and_its_gradients_match_the_cpu(case, dtype):
    use_mask, groups, offset_groups, stride, padding, dilation = case
    n, channels, height, width, out_channels, kh, kw = 2, 8, 9, 11, 6, 3, 2
    g = generator(9)
    out_h = (height + 2 * padding - (dilation * (kh - 1) + 1)) // stride + 1
    out_w = (width + 2 * padding - (dilation * (kw - 1) + 1)) // stride + 1
    operands = {
        "input": torch.randn(n, channels, height, width, generator=g),
        "weight": torch.randn(out_channels, channels // groups, kh, kw, generator=g),
        "bias": torch.randn(out_channels, generator=g),
        # Offsets of a few pixels: taps land between pixels and outside the image.
        "offset": torch.randn(n, 2 * offset_groups * kh * kw, out_h, out_w, generator=g) * 2,
    }
    if use_mask:
        operands["mask"] = torch.rand(n, offset_groups * kh * kw, out_h, out_w, generator=g)
    results = []
    for device in ("cpu", "mlu"):
        leaves = {k: v.to(dtype).to(device).detach().requires_grad_() for k, v in operands.items()}
        out = ops.deform_conv2d(stride=stride, padding=padding, dilation=dilation, **leaves)
        out.backward(torch.randn(out.shape, generator=generator(10)).to(dtype).to(device))
        results.append([out.detach().cpu()] + [leaves[k].grad.cpu() for k in sorted(leaves)])
    for actual, expected in zip(results[1], results[0]):
        torch.testing.assert_close(actual, expected, **TOLERANCE[dtype])


def test_deform_conv2d_module_trains():
    torch.manual_seed(0)
    layer = ops.DeformConv2d(4, 6, 3, padding=1).to("mlu")
    offsets = torch.nn.Conv2d(4, 18, 3, padding=1).to("mlu")
    optimizer = torch.optim.SGD([*layer.parameters(), *offsets.parameters()], lr=0.05)
    x = torch.randn(2, 4, 8, 8, device="mlu")
    target = torch.randn(2, 6, 8, 8, device="mlu")
    losses = []
    for _ in range(5):
        loss = (layer(x, offsets(x)) - target).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_malformed_operands_raise_clear_errors_and_the_device_stays_usable():
    x = torch.randn(1, 4, 8, 8, device="mlu")
    with pytest.raises(RuntimeError, match=r"rois of shape \[K, 5\]"):
        torch.ops.torchvision.roi_align(x, torch.zeros(2, 4, device="mlu"), 1.0, 2, 2, -1, False)
    with pytest.raises(RuntimeError, match="same dtype"):
        torch.ops.torchvision.roi_align(x, torch.zeros(2, 5, device="mlu", dtype=torch.float64),
                                        1.0, 2, 2, -1, False)
    with pytest.raises(RuntimeError, match="multiple of the output height times width"):
        ops.ps_roi_align(x, torch.zeros(1, 5, device="mlu"), (3, 3))
    with pytest.raises(RuntimeError, match="one score per box"):
        ops.nms(torch.zeros(3, 4, device="mlu"), torch.zeros(2, device="mlu"), 0.5)
    with pytest.raises(RuntimeError, match="offset.shape"):
        ops.deform_conv2d(x, torch.zeros(1, 10, 8, 8, device="mlu"), torch.zeros(2, 4, 3, 3, device="mlu"),
                          padding=1)
    # A batch index naming no image is found where the kernel reads it, on the device: reported
    # at the next synchronisation, naming the roi.
    bad = torch.tensor([[0, 1.0, 1, 4, 4], [3, 1.0, 1, 4, 4]], device="mlu")
    with pytest.raises(RuntimeError, match="roi 1 has batch index 3"):
        ops.roi_align(x, bad, 2).cpu()
    torch.testing.assert_close(ops.roi_align(x, bad[:1], 2).cpu(),
                               ops.roi_align(x.cpu(), bad[:1].cpu(), 2))


@pytest.mark.parametrize("name", ["fasterrcnn_mobilenet_v3_large_320_fpn", "maskrcnn_resnet50_fpn"])
def test_detection_models_train_and_infer_with_no_cpu_fallback(name):
    torch.manual_seed(0)
    model = getattr(torchvision.models.detection, name)(
        weights=None, weights_backbone=None, num_classes=4, min_size=128, max_size=160).to("mlu")
    images = [torch.rand(3, 128, 160, device="mlu"), torch.rand(3, 120, 150, device="mlu")]
    targets = [{"boxes": torch.tensor([[10.0, 20, 80, 90], [30, 30, 60, 100]]), "labels": torch.tensor([1, 3])},
               {"boxes": torch.tensor([[5.0, 5, 50, 60]]), "labels": torch.tensor([2])}]
    for image, target in zip(images, targets):
        target["masks"] = torch.zeros(len(target["boxes"]), *image.shape[1:], dtype=torch.uint8)
    targets = [{k: v.to("mlu") for k, v in t.items()} for t in targets]
    model.train()
    losses = model(images, targets)
    sum(losses.values()).backward()
    assert all(torch.isfinite(v).item() for v in losses.values())
    assert all(p.grad is not None for p in model.roi_heads.parameters() if p.requires_grad)
    model.eval()
    with torch.no_grad():
        detections = model(images)
    assert len(detections) == 2 and detections[0]["boxes"].device.type == "mlu"
    # the autouse fixture asserts that nothing ran on the CPU fallback
