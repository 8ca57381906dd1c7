"""Checks de-identified DICOM files against their originals with pydicom (independently of
medxfer's own profile table).

Usage: python check_deid.py ORIGINAL DEIDENTIFIED [ORIGINAL DEIDENTIFIED ...]
Prints one line per pair and "deid check: N passed, M failed"; exits 1 on any failure.
Checks: file readable; Patient's Name / ID / Birth Date / Sex empty or absent; attributes the
PS3.15 Basic Profile removes are absent (at any depth); no private attributes, curves or
overlay data/comments; every non-standard UID replaced, the same original UID always by the
same new one (across all pairs); Patient Identity Removed = YES; pixel data decodes to the
same array as the original; the original Patient's Name and Patient ID appear nowhere in
the output bytes.
"""

import sys

import numpy as np
import pydicom

EMPTY = ["PatientName", "PatientID", "PatientBirthDate", "PatientSex", "AccessionNumber",
         "ReferringPhysicianName", "StudyID", "StudyDate", "StudyTime"]
REMOVED = ["PatientAge", "PatientAddress", "OtherPatientIDs", "OtherPatientNames",
           "PatientBirthTime", "PatientSize", "PatientWeight", "InstitutionName",
           "InstitutionAddress", "OperatorsName", "PerformingPhysicianName",
           "PhysiciansOfRecord", "NameOfPhysiciansReadingStudy", "StationName",
           "DeviceSerialNumber", "StudyDescription", "SeriesDescription", "ImageComments",
           "RequestAttributesSequence", "ReferencedPatientSequence", "MedicalRecordLocator",
           "AdditionalPatientHistory", "PatientComments", "ProtocolName",
           "InstitutionalDepartmentName", "RequestingPhysician", "EthnicGroup", "Occupation"]
STANDARD_ROOT = "1.2.840.10008."


def walk(ds):
    for elem in ds:
        yield elem
        if elem.VR == "SQ":
            for item in elem.value:
                yield from walk(item)


def uids(ds):
    found = []
    for elem in walk(ds):
        if elem.VR == "UI" and elem.value:
            values = elem.value if elem.VM > 1 else [elem.value]
            found.extend((elem.tag, str(v)) for v in values)
    return found


def check_pair(original_path, deid_path, uid_map):
    problems = []
    orig = pydicom.dcmread(original_path)
    out = pydicom.dcmread(deid_path)
    for keyword in EMPTY:
        if keyword in out and str(out.data_element(keyword).value or "") != "":
            problems.append(f"{keyword} not empty")
    for elem in walk(out):
        if elem.keyword in REMOVED:
            problems.append(f"{elem.keyword} present")
        if elem.tag.is_private:
            problems.append(f"private {elem.tag} present")
        if 0x5000 <= elem.tag.group <= 0x50FF:
            problems.append(f"curve {elem.tag} present")
        if 0x6000 <= elem.tag.group <= 0x60FF and elem.tag.element in (0x3000, 0x4000):
            problems.append(f"overlay {elem.tag} present")
    if str(out.get("PatientIdentityRemoved", "")) != "YES":
        problems.append("PatientIdentityRemoved is not YES")
    new_uids = {tag: value for tag, value in uids(out)}
    for tag, value in uids(orig):
        if value.startswith(STANDARD_ROOT):
            continue
        if any(v == value for _, v in uids(out)):
            problems.append(f"original UID {value} ({tag}) still present")
        if tag in new_uids and tag not in (0x00080016, 0x00081150):
            previous = uid_map.setdefault(value, new_uids[tag])
            if previous != new_uids[tag] and not new_uids[tag].startswith(STANDARD_ROOT):
                problems.append(f"UID {value} replaced inconsistently")
    if out.file_meta.MediaStorageSOPInstanceUID != out.SOPInstanceUID:
        problems.append("MediaStorageSOPInstanceUID != SOPInstanceUID")
    if "PixelData" in orig:
        try:
            if not np.array_equal(orig.pixel_array, out.pixel_array):
                problems.append("pixel data differs")
        except Exception as err:  # noqa: BLE001  (pixels pydicom cannot decode: compare bytes)
            if orig.PixelData != out.PixelData:
                problems.append(f"pixel data bytes differ ({type(err).__name__})")
    raw = open(deid_path, "rb").read()
    for keyword in ("PatientName", "PatientID"):
        value = str(orig.get(keyword, "") or "")
        if len(value) >= 3 and value.encode("latin-1", "ignore") in raw:
            problems.append(f"original {keyword} {value!r} found in output bytes")
    return problems


def main():
    args = sys.argv[1:]
    if len(args) < 2 or len(args) % 2:
        sys.exit(__doc__)
    uid_map = {}
    passed = failed = 0
    for original, deid in zip(args[::2], args[1::2]):
        problems = check_pair(original, deid, uid_map)
        if problems:
            failed += 1
            print(f"FAIL {original} -> {deid}: {'; '.join(sorted(set(problems)))}")
        else:
            passed += 1
            print(f"ok   {original} -> {deid}")
    print(f"deid check: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
