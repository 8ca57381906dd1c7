"""PyTorch reference for one fold of a medxfer two-phase classification run: the fold's own
train / validation / test images (read from the run's predictions.csv), the recipe of
examples/busi.toml, timed as medxfer times a fold (training and per-epoch validation, no
image decoding, no final prediction).

Recipe: timm EfficientNet-Lite0 (random weights: only the time is compared) with a linear
head, images resized to SIZE x SIZE and normalised with mean 0.5 / std 0.5; phase 1 trains
the head alone on cached pooled features (HEAD_EPOCHS at 1e-3), phase 2 everything (EPOCHS at
1e-4); AdamW (weight decay 1e-4, eps 1e-8), cosine schedule per step, batch 32, class
weights "balanced", augmentation of the full phase: random resized crop (scale 0.8-1),
horizontal flip 0.5, rotation +-10 degrees, brightness and contrast 0.1; validation AUC after
every epoch, best epoch kept. DataLoader-free (one process, the given threads), as medxfer.

Usage: python pytorch_busi_fold.py RUN_DIR DATA_ROOT FOLD THREADS [SIZE HEAD_EPOCHS EPOCHS]
Prints one JSON object: seconds, best validation AUC, test AUC, torch version, threads.
"""
import csv
import json
import math
import os
import sys
import time

import numpy as np
import timm
import torch
import torch.nn.functional as F
from PIL import Image
from sklearn.metrics import roc_auc_score
from torchvision.transforms import v2


def fold_parts(run_dir, fold):
    """Image ids of the fold's validation and test rows, every image id, and labels."""
    parts = {"val": [], "test": []}
    labels = {}
    with open(os.path.join(run_dir, "predictions.csv")) as f:
        for row in csv.DictReader(f):
            labels[row["image_id"]] = row["label"]
            if int(row["fold"]) == fold and row["split"] in parts:
                parts[row["split"]].append(row["image_id"])
    held = set(parts["val"]) | set(parts["test"])
    parts["train"] = sorted(i for i in labels if i not in held)
    return parts, labels


def load(root, ids, labels, classes, size):
    images = []
    for image_id in ids:
        with Image.open(os.path.join(root, image_id)) as im:
            im = im.convert("RGB").resize((size, size), Image.BILINEAR)
            images.append(torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1))
    x = torch.stack(images).float().div(255.0).sub(0.5).div(0.5)
    y = torch.tensor([classes.index(labels[i]) for i in ids])
    return x, y


def cosine(step, total, base):
    return 0.5 * base * (1.0 + math.cos(math.pi * min(step / max(total, 1), 1.0)))


def validation_auc(model, x, y):
    model.eval()
    with torch.inference_mode():
        scores = torch.cat([F.softmax(model(x[i:i + 64]), 1)[:, 1] for i in range(0, len(x), 64)])
    model.train()
    return roc_auc_score(y.numpy(), scores.numpy())


def run_phase(model, params, x, y, val, epochs, lr, weights, augment, forward, batch=32):
    """Epochs of AdamW with a per-step cosine schedule; returns the best validation AUC and
    keeps the best epoch's weights in `model`."""
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4, eps=1e-8)
    steps_per_epoch = math.ceil(len(x) / batch)
    best, best_state, step = -1.0, None, 0
    generator = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch):
            index = order[start:start + batch]
            # Per image, as a DataLoader's per-sample transform (and medxfer) draws them.
            inputs = torch.stack([augment(img) for img in x[index]]) if augment else x[index]
            for group in optimizer.param_groups:
                group["lr"] = cosine(step, epochs * steps_per_epoch, lr)
            loss = F.cross_entropy(forward(inputs), y[index], weight=weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
        auc = val()
        if auc > best:
            best = auc
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    return best


def main():
    run_dir, root, fold, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    size, head_epochs, epochs = (int(v) for v in (sys.argv[5:8] + ["128", "5", "15"][len(sys.argv[5:8]):]))
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    parts, labels = fold_parts(run_dir, fold)
    classes = sorted(set(labels.values()))
    (xt, yt), (xv, yv), (xs, ys) = (
        load(root, parts[p], labels, classes, size) for p in ("train", "val", "test")
    )
    counts = torch.bincount(yt, minlength=len(classes)).float()
    weights = len(yt) / (len(classes) * counts)
    model = timm.create_model("efficientnet_lite0", pretrained=False, num_classes=len(classes))
    model.train()
    augment = v2.Compose([
        v2.RandomResizedCrop(size, scale=(0.8, 1.0), antialias=True),
        v2.RandomHorizontalFlip(0.5),
        v2.RandomRotation(10),
        v2.ColorJitter(brightness=0.1, contrast=0.1),
    ])

    start = time.perf_counter()
    # Phase 1: the head alone on features computed once (the backbone frozen, eval mode).
    model.eval()
    with torch.inference_mode():
        feats_t = torch.cat([model.forward_head(model.forward_features(xt[i:i + 64]), pre_logits=True) for i in range(0, len(xt), 64)])
        feats_v = torch.cat([model.forward_head(model.forward_features(xv[i:i + 64]), pre_logits=True) for i in range(0, len(xv), 64)])
    model.train()
    head = model.get_classifier()

    def head_val():
        with torch.inference_mode():
            return roc_auc_score(yv.numpy(), F.softmax(head(feats_v), 1)[:, 1].numpy())

    run_phase(head, head.parameters(), feats_t, yt, head_val, head_epochs, 1e-3, weights, None, head)
    # Phase 2: everything, on augmented images.
    best = run_phase(model, model.parameters(), xt, yt, lambda: validation_auc(model, xv, yv),
                     epochs, 1e-4, weights, augment, model)
    seconds = time.perf_counter() - start
    print(json.dumps({
        "seconds": round(seconds, 1),
        "best_val_auc": round(best, 4),
        "test_auc": round(validation_auc(model, xs, ys), 4),
        "train_images": len(xt),
        "torch": torch.__version__,
        "timm": timm.__version__,
        "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
