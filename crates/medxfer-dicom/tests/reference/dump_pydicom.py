"""Dump pydicom's decoded pixel arrays as the reference for medxfer-dicom's decode cross-check.

For every file in pydicom's data/test_files and in pydicom-data that pydicom can read and
decode, writes into OUT:
  <key>.stored.npy    ds.pixel_array (pydicom's defaults: YBR converted to RGB)
  <key>.modality.npy  monochrome with a non-identity Modality LUT / Rescale Slope+Intercept:
                      the values after it
                      (pydicom's apply_modality_lut; for enhanced multi-frame objects without a
                      top-level rescale, the shared functional group's Pixel Value
                      Transformation is applied the same way)
  <key>.palette.npy   PALETTE COLOR only: apply_color_lut output (RGB)
  <key>.voi.npy       monochrome with a top-level VOI LUT Sequence or Window Center/Width:
                      apply_voi_lut(modality values) of the first window, normalised to
                      0..1 (float32) by the output range pydicom maps into (no MONOCHROME1
                      inversion)
and index.json listing every file, with why it was skipped when it was.

Usage: python dump_pydicom.py --files .cache/dicom-test-files.txt --out .cache/dicom-reference
"""

import argparse
import json
import os
import sys
import tempfile

import numpy as np
import pydicom
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut

LOSSY_SYNTAXES = {
    "1.2.840.10008.1.2.4.50",  # JPEG baseline
    "1.2.840.10008.1.2.4.51",  # JPEG extended
    "1.2.840.10008.1.2.4.81",  # JPEG-LS near-lossless
    "1.2.840.10008.1.2.4.91",  # JPEG 2000 (may be lossy)
    "1.2.840.10008.1.2.4.93",  # JPEG 2000 Part 2 multi-component (may be lossy)
}


def read_locations(path):
    locations = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.strip().partition("=")
            if key:
                locations[key] = value
    return locations


def shared_rescale(ds):
    """Rescale (slope, intercept) from an enhanced object's shared functional groups, or None."""
    try:
        item = ds.SharedFunctionalGroupsSequence[0].PixelValueTransformationSequence[0]
        return float(item.RescaleSlope), float(item.RescaleIntercept)
    except (AttributeError, IndexError, KeyError):
        return None


def modality_values(arr, ds):
    """The modality values, or None when the transform is the identity (saves disk space)."""
    if ds.get("ModalityLUTSequence"):
        return np.asarray(apply_modality_lut(arr, ds), dtype=np.float64)
    if "RescaleSlope" in ds and "RescaleIntercept" in ds:
        rescale = (float(ds.RescaleSlope), float(ds.RescaleIntercept))
    else:
        rescale = shared_rescale(ds)
    if rescale is None or rescale == (1.0, 0.0):
        return None
    if "RescaleSlope" in ds and "RescaleIntercept" in ds:
        return np.asarray(apply_modality_lut(arr, ds), dtype=np.float64)
    return arr.astype(np.float64) * rescale[0] + rescale[1]


def voi_normalised(modality, ds):
    """apply_voi_lut's output scaled to 0..1, or None when the file has no VOI LUT / window."""
    has_lut = bool(ds.get("VOILUTSequence"))
    if not has_lut and "WindowCenter" not in ds:
        return None
    out = np.asarray(apply_voi_lut(modality, ds, index=0), dtype=np.float64)
    if has_lut:
        bits = int(ds.VOILUTSequence[0].LUTDescriptor[2])
        return (out / (2**bits - 1)).astype(np.float32)
    # The output range pydicom's apply_windowing maps into.
    if ds.get("ModalityLUTSequence"):
        y_min, y_max = 0.0, 2.0 ** int(ds.ModalityLUTSequence[0].LUTDescriptor[2]) - 1
    elif int(ds.PixelRepresentation) == 0:
        y_min, y_max = 0.0, 2.0 ** int(ds.BitsStored) - 1
    else:
        y_min, y_max = -(2.0 ** (int(ds.BitsStored) - 1)), 2.0 ** (int(ds.BitsStored) - 1) - 1
    if "RescaleSlope" in ds and "RescaleIntercept" in ds and not ds.get("ModalityLUTSequence"):
        y_min = y_min * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        y_max = y_max * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    return ((out - y_min) / (y_max - y_min)).astype(np.float32)


def save_npy(path, arr):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        np.save(f, np.ascontiguousarray(arr))
    os.replace(tmp, path)


def dump_one(source, path, out_dir):
    name = os.path.basename(path)
    key = f"{source}__{name}"
    entry = {"key": key, "source": source, "file": name, "path": path}
    try:
        ds = pydicom.dcmread(path)
    except Exception as err:  # noqa: BLE001  (any reader failure means "not readable")
        entry["skipped"] = f"pydicom cannot read it: {type(err).__name__}: {err}"[:300]
        return entry
    if "PixelData" not in ds:
        entry["skipped"] = "no Pixel Data"
        return entry
    tsyntax = str(ds.file_meta.get("TransferSyntaxUID", "")) if hasattr(ds, "file_meta") else ""
    entry["transfer_syntax"] = tsyntax
    entry["photometric"] = str(ds.get("PhotometricInterpretation", ""))
    entry["lossy"] = tsyntax in LOSSY_SYNTAXES or str(ds.get("LossyImageCompression", "")) == "01"
    try:
        arr = ds.pixel_array
    except Exception as err:  # noqa: BLE001
        entry["skipped"] = f"pydicom cannot decode it: {type(err).__name__}: {err}"[:300]
        return entry
    entry["shape"] = list(arr.shape)
    entry["dtype"] = str(arr.dtype)
    entry["frames"] = int(ds.get("NumberOfFrames", 1) or 1)
    entry["samples_per_pixel"] = int(ds.get("SamplesPerPixel", 1))
    save_npy(os.path.join(out_dir, key + ".stored.npy"), arr)
    if entry["photometric"] in ("MONOCHROME1", "MONOCHROME2"):
        values = modality_values(arr, ds)
        if values is not None:
            save_npy(os.path.join(out_dir, key + ".modality.npy"), values)
        entry["modality"] = values is not None
        try:
            voi = voi_normalised(arr if values is None else values, ds)
        except Exception as err:  # noqa: BLE001
            voi = None
            entry["voi_error"] = f"{type(err).__name__}: {err}"[:300]
        if voi is not None:
            save_npy(os.path.join(out_dir, key + ".voi.npy"), voi)
        entry["voi"] = voi is not None
    if entry["photometric"] == "PALETTE COLOR":
        try:
            save_npy(os.path.join(out_dir, key + ".palette.npy"), apply_color_lut(arr, ds))
            entry["palette"] = True
        except Exception as err:  # noqa: BLE001
            entry["palette_error"] = f"{type(err).__name__}: {err}"[:300]
    return entry


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    locations = read_locations(args.files)
    os.makedirs(args.out, exist_ok=True)
    entries = []
    for source in ("pydicom_test_files", "pydicom_data"):
        folder = locations.get(source)
        if not folder or not os.path.isdir(folder):
            print(f"{source}: not found", file=sys.stderr)
            continue
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if os.path.isfile(path) and name.endswith(".dcm"):
                entries.append(dump_one(source, path, args.out))
    index = os.path.join(args.out, "index.json")
    with open(index + ".tmp", "w") as f:
        json.dump({"pydicom": pydicom.__version__, "files": entries}, f, indent=1)
    os.replace(index + ".tmp", index)
    dumped = sum(1 for e in entries if "skipped" not in e)
    print(f"pydicom reference: {dumped} decoded, {len(entries) - dumped} skipped -> {args.out}")


if __name__ == "__main__":
    main()
