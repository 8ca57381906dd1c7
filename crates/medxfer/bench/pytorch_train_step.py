"""PyTorch reference for `medxfer bench train-step`: the same backbone (timm, random weights,
global-average-pooled features), the same batch of N(0,1) images, forward + mean + backward
(training) or a no-grad forward in eval mode (inference), at the same thread count.

Prints one JSON object: images per second for NCHW and channels_last, and the best of them.
Usage: python pytorch_train_step.py BACKBONE SIZE BATCH ROUNDS THREADS MODE
"""
import json
import sys
import time

import torch
import timm

TIMM_NAMES = {
    "resnet18": "resnet18",
    "resnet50": "resnet50",
    "efficientnet_lite0": "efficientnet_lite0",
    "densenet121": "densenet121",
    "inception_v3": "inception_v3",
    "xception": "legacy_xception",
    "vgg16": "vgg16",
    "vgg16_bn": "vgg16_bn",
}

# timm's VGG keeps its fc6/fc7 as convolutions ("pre_logits") even without a classifier; our
# VGG backbone ends at the last convolution, so these are timed up to their pooled features.
FEATURES_ONLY = {"vgg16", "vgg16_bn"}


def pooled_features(model, name):
    """The backbone up to its global-average-pooled features, as medxfer's backbone."""
    if name in FEATURES_ONLY:
        return lambda x: model.forward_features(x).mean(dim=(2, 3))
    return model


def step_seconds(forward, x, mode):
    start = time.perf_counter()
    if mode == "train":
        loss = forward(x).mean()
        loss.backward()
    else:
        with torch.inference_mode():
            forward(x)
    return time.perf_counter() - start


def images_per_second(name, size, batch, rounds, mode, channels_last):
    torch.manual_seed(0)
    model = timm.create_model(TIMM_NAMES[name], pretrained=False, num_classes=0)
    model.train(mode == "train")
    x = torch.randn(batch, 3, size, size)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    forward = pooled_features(model, name)
    step_seconds(forward, x, mode)  # warm-up
    total = sum(step_seconds(forward, x, mode) for _ in range(rounds))
    return batch * rounds / total


def main():
    name, size, batch, rounds, threads, mode = sys.argv[1:7]
    size, batch, rounds, threads = int(size), int(batch), int(rounds), int(threads)
    torch.set_num_threads(threads)
    rates = {
        layout: images_per_second(name, size, batch, rounds, mode, layout == "channels_last")
        for layout in ("nchw", "channels_last")
    }
    print(json.dumps({
        "torch": torch.__version__,
        "timm": timm.__version__,
        "threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "images_per_second": rates,
        "best_layout": max(rates, key=rates.get),
        "best": max(rates.values()),
    }))


if __name__ == "__main__":
    main()
