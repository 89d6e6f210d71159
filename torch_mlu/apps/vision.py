"""Image classification, detection and video classification with torchvision's models."""

import torch
import torch.nn.functional as F

from .runner import App, to_device


def slow_sgd(model):
    """Random labels on random images: a small step keeps training stable enough to compare."""
    return torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)


def relative(a, b):
    return ((a.cpu().double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-12)).item()


def classification_batch(classes, size, frames=None):
    def batch(generator, quick):
        # 8 images even when quick: batch norm over 2 is too chaotic to compare devices
        shape = (8, 3, size, size) if frames is None else (2, 3, frames, size, size)
        return (torch.randn(*shape, generator=generator),
                torch.randint(0, classes, (shape[0],), generator=generator))
    return batch


def classify(model, batch):
    images, labels = batch
    return F.cross_entropy(model(images), labels)


def resnet(quick):
    from torchvision.models import resnet18
    return resnet18(num_classes=10)


def vit(quick):
    from torchvision.models import VisionTransformer
    return VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=4,
                             hidden_dim=64, mlp_dim=128, num_classes=10)


def video(quick):
    from torchvision.models.video import r3d_18
    return r3d_18(num_classes=5)


def detection_batch(generator, quick):
    sizes = [(128, 160), (120, 150)]
    images, targets = [], []
    for h, w in sizes:
        images.append(torch.rand(3, h, w, generator=generator))
        corner = torch.rand(2, 2, generator=generator) * torch.tensor([w / 2, h / 2])
        extent = 20 + torch.rand(2, 2, generator=generator) * torch.tensor([w / 3, h / 3])
        targets.append({"boxes": torch.cat([corner, corner + extent], 1),
                        "labels": torch.randint(1, 4, (2,), generator=generator)})
    return images, targets


def detection_loss(model, batch):
    model.train()
    images, targets = batch
    return sum(model(images, targets).values())


def faster_rcnn(quick):
    from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_320_fpn
    return fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None,
                                                 num_classes=4, min_size=128, max_size=160)


def retinanet(quick):
    from torchvision.models.detection import retinanet_resnet50_fpn
    return retinanet_resnet50_fpn(weights=None, weights_backbone=None, num_classes=4,
                                  min_size=128, max_size=160)


def detection_check(cpu_model, mlu_model, batch, quick):
    """Inference from the CPU's trained weights on both devices: the backbone's features against
    the CPU, and that detection runs (the training losses differ by the samplers' random draws,
    and with random weights which boxes pass the score threshold is not stable)."""
    images = batch[0]
    checks = {}
    mlu_model.load_state_dict(cpu_model.state_dict())  # the same weights: training drew differently
    with torch.no_grad():
        cpu_model.eval(), mlu_model.eval()
        x_cpu = cpu_model.transform(images)[0].tensors
        x_mlu = mlu_model.transform(to_device(images, "mlu"))[0].tensors
        features_cpu, features_mlu = cpu_model.backbone(x_cpu), mlu_model.backbone(x_mlu)
        difference = max(relative(features_mlu[k], features_cpu[k]) for k in features_cpu)
        checks["backbone features vs CPU"] = (difference, difference < 1e-3)
        detections = mlu_model(to_device(images, "mlu"))
        found = sum(len(d["boxes"]) for d in detections)
        checks["inference runs (detections)"] = (found, all(d["boxes"].shape[-1] == 4 for d in detections))
    return checks


APPS = [
    App("resnet18", "image classification", "torchvision ResNet-18, 32x32 images",
        resnet, classification_batch(10, 32), classify, optimizer=slow_sgd,
        requires=("torchvision",)),
    App("vit", "image classification", "torchvision VisionTransformer, 2 layers, 32x32 images",
        vit, classification_batch(10, 32), classify, requires=("torchvision",)),
    App("faster_rcnn", "detection", "torchvision Faster R-CNN (MobileNetV3-FPN), 2 images",
        faster_rcnn, detection_batch, detection_loss, check=detection_check,
        losses_agree=False, requires=("torchvision",)),
    App("retinanet", "detection", "torchvision RetinaNet (ResNet-50-FPN), 2 images",
        retinanet, detection_batch, detection_loss,
        requires=("torchvision",)),
    App("r3d_18", "video classification", "torchvision R3D-18, 2 clips of 4 frames at 32x32",
        video, classification_batch(5, 32, frames=4), classify, optimizer=slow_sgd,
        requires=("torchvision",)),
]
