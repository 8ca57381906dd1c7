"""Keras 3 model (.keras) -> safetensors, for `medxfer weights fetch` (the documented Python step).

Usage: python keras_to_safetensors.py MODEL.keras OUT.safetensors

A `.keras` file is a zip holding `config.json` (the layer graph) and `model.weights.h5`. Keras 3
stores each layer's variables in the HDF5 file under a generic name made from its class
(`layers/functional/layers/conv2d_5/vars/0`), numbered per class in the order of the model's
layer list; `config.json` lists the layers in that same order with their real names
(`conv2_block1_1_conv`). This script pairs the two and writes every variable as
`<layer name>/<variable index>` (float32, Keras shapes: conv kernels H x W x in x out), so the
Rust side does all renaming and transposing. One exception: a depthwise kernel (variable 0 of a
`DepthwiseConv2D` or `SeparableConv2D`, H x W x channels x multiplier) is written as
H x W x 1 x (channels * multiplier), the same values in the same order, so that the generic
H x W x in x out -> out x in x H x W turn gives PyTorch's grouped layout (channels x 1 x H x W). Needs numpy and h5py (`.ci/setup.d/45-h5py.sh`).
Every variable group of the HDF5 file must be claimed by a layer of the config, else it fails.
"""

import json
import os
import re
import struct
import sys
import zipfile


def snake_case(class_name):
    """Keras's own rule for the generic names (keras.src.utils.naming.to_snake_case)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


DEPTHWISE_CLASSES = ("DepthwiseConv2D", "SeparableConv2D")


def as_grouped_kernel(layer, index, array):
    """A depthwise kernel as H x W x 1 x (channels * multiplier); any other array unchanged."""
    if layer["class_name"] in DEPTHWISE_CLASSES and index == "0" and array.ndim == 4:
        height, width, channels, multiplier = array.shape
        return array.reshape(height, width, 1, channels * multiplier)
    return array


def collect(config_layers, group, out, claimed):
    """Walk one model's layer list beside its HDF5 group, filling `out` and `claimed`."""
    used = {}
    for layer in config_layers:
        generic = snake_case(layer["class_name"])
        if generic in used:
            used[generic] += 1
            generic = f"{generic}_{used[generic]}"
        else:
            used[generic] = 0
        if "layers" not in group or generic not in group["layers"]:
            continue  # a layer with no saved state (Sequential's InputLayer)
        node = group["layers"][generic]
        name = layer["config"]["name"]
        nested = layer["config"].get("layers")
        if isinstance(nested, list):
            collect(nested, node, out, claimed)
        variables = node.get("vars", {})
        for index in sorted(variables.keys(), key=int):
            key = f"{name}/{index}"
            if key in out:
                raise SystemExit(f"error: two layers are named {name}")
            out[key] = as_grouped_kernel(layer, index, variables[index][()])
            claimed.add(variables[index].name)


def all_variables(group):
    """HDF5 names of every dataset under `group` that is a layer variable."""
    found = set()

    def visit(name, item):
        if hasattr(item, "shape") and "/vars/" in f"/{name}":
            found.add(item.name)

    group.visititems(visit)
    return found


def write_safetensors(tensors, path):
    import numpy as np

    header, blobs, offset = {}, [], 0
    for key in sorted(tensors):
        array = np.ascontiguousarray(tensors[key], dtype="<f4")
        blob = array.tobytes()
        header[key] = {
            "dtype": "F32",
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as handle:
        handle.write(struct.pack("<Q", len(text)))
        handle.write(text)
        for blob in blobs:
            handle.write(blob)
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: keras_to_safetensors.py MODEL.keras OUT.safetensors")
    source, target = sys.argv[1], sys.argv[2]
    try:
        import h5py
    except ImportError:
        raise SystemExit(
            "error: the Python module h5py is missing (run .ci/setup.d/45-h5py.sh, "
            "or set MEDXFER_PYTHON to a Python with h5py and numpy)"
        )
    scratch = os.path.dirname(os.path.abspath(target))
    with zipfile.ZipFile(source) as archive:
        config = json.loads(archive.read("config.json"))
        weights_path = os.path.join(scratch, "model.weights.h5")
        with open(weights_path, "wb") as handle:
            handle.write(archive.read("model.weights.h5"))
    tensors, claimed = {}, set()
    with h5py.File(weights_path, "r") as weights:
        collect(config["config"]["layers"], weights, tensors, claimed)
        unclaimed = sorted(all_variables(weights["layers"]) - claimed)
    os.remove(weights_path)
    if unclaimed:
        raise SystemExit(f"error: {len(unclaimed)} variables match no layer, e.g. {unclaimed[0]}")
    write_safetensors(tensors, target)


if __name__ == "__main__":
    main()
