"""PyTorch reference for `medxfer bench explain`: pytorch-grad-cam's GradCAM on timm's same
architecture (random weights, CLASSES outputs, eval mode) at the same stage as medxfer's
`last` (ResNet: layer4's output; EfficientNet-Lite0: the head convolution's activated
output, timm's `bn2`), on IMAGES random 1 x 3 x SIZE x SIZE images, class 0, after one
untimed warm-up map, at THREADS threads.

Prints one JSON object with the seconds per map.
Usage: python pytorch_gradcam.py BACKBONE SIZE IMAGES CLASSES THREADS
"""
import json
import sys
import time

import timm
import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

TIMM_NAMES = {
    "resnet18": "resnet18",
    "resnet50": "resnet50",
    "efficientnet_lite0": "efficientnet_lite0",
    "densenet121": "densenet121",
}


def last_stage(name, model):
    if name.startswith("resnet"):
        return model.layer4[-1]
    if name.startswith("efficientnet"):
        return model.bn2
    return model.features.norm5


def main():
    name, size, images, classes, threads = sys.argv[1:6]
    size, images, classes, threads = int(size), int(images), int(classes), int(threads)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = timm.create_model(TIMM_NAMES[name], pretrained=False, num_classes=classes).eval()
    cam = GradCAM(model=model, target_layers=[last_stage(name, model)])
    inputs = [torch.randn(1, 3, size, size) for _ in range(images)]
    targets = [ClassifierOutputTarget(0)]
    cam(input_tensor=inputs[0], targets=targets)  # warm-up
    start = time.perf_counter()
    for x in inputs:
        cam(input_tensor=x, targets=targets)
    seconds = time.perf_counter() - start
    print(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "maps": images,
        "seconds_per_map": seconds / images,
    }))


if __name__ == "__main__":
    main()
