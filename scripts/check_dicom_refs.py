#!/usr/bin/python3
"""Check with pydicom that a plan folder is one consistent DICOM set.

    /usr/bin/python3 scripts/check_dicom_refs.py OUT/plan1 [CT_FOLDER]

Reads every DICOM file under the folder(s) (CT, RTSTRUCT, RTPLAN, RTDOSE) and checks that
each reference resolves: one Study and one Frame of Reference for all files; the RTSTRUCT's
contour image references name CT slices that exist; the RT Plan's structure-set reference
names the RTSTRUCT; the RT Dose's plan reference names the RT Plan. Prints one line per
check and "all references resolve" (exit 0), else the failures (exit 1).
An independent reader: it uses pydicom only, none of vmatplan's code.
"""
import pathlib
import sys

import pydicom


def main(folders):
    files = []
    for folder in folders:
        for p in sorted(pathlib.Path(folder).rglob("*")):
            if p.is_file():
                try:
                    files.append((p, pydicom.dcmread(str(p), stop_before_pixels=True)))
                except Exception:
                    pass  # not DICOM (report.html, plan.json, ...)
    by_modality = {}
    for p, d in files:
        by_modality.setdefault(d.get("Modality", "?"), []).append((p, d))
    failures = []

    def check(ok, text):
        print(("ok   " if ok else "FAIL ") + text)
        if not ok:
            failures.append(text)

    counts = ", ".join(f"{k}: {len(v)}" for k, v in sorted(by_modality.items()))
    check(all(m in by_modality for m in ("CT", "RTSTRUCT", "RTPLAN", "RTDOSE")),
          f"CT, RTSTRUCT, RTPLAN and RTDOSE present ({counts})")
    studies = {str(d.StudyInstanceUID) for _, d in files}
    check(len(studies) == 1, f"one StudyInstanceUID ({len(studies)} found)")
    frames = set()
    for _, d in files:
        if "FrameOfReferenceUID" in d:
            frames.add(str(d.FrameOfReferenceUID))
        for f in d.get("ReferencedFrameOfReferenceSequence", []):
            frames.add(str(f.FrameOfReferenceUID))
    check(len(frames) == 1, f"one FrameOfReferenceUID ({len(frames)} found)")
    ct_uids = {str(d.SOPInstanceUID) for _, d in by_modality.get("CT", [])}
    for p, rs in by_modality.get("RTSTRUCT", []):
        refs = {str(c.ReferencedSOPInstanceUID)
                for roi in rs.get("ROIContourSequence", [])
                for contour in roi.get("ContourSequence", [])
                for c in contour.get("ContourImageSequence", [])}
        check(bool(refs) and refs <= ct_uids,
              f"{p.name}: {len(refs)} contour image references, all CT slices present")
    rs_uids = {str(d.SOPInstanceUID) for _, d in by_modality.get("RTSTRUCT", [])}
    for p, rp in by_modality.get("RTPLAN", []):
        refs = {str(r.ReferencedSOPInstanceUID) for r in rp.get("ReferencedStructureSetSequence", [])}
        check(bool(refs) and refs <= rs_uids, f"{p.name}: references the RTSTRUCT")
    rp_uids = {str(d.SOPInstanceUID) for _, d in by_modality.get("RTPLAN", [])}
    for p, rd in by_modality.get("RTDOSE", []):
        refs = {str(r.ReferencedSOPInstanceUID) for r in rd.get("ReferencedRTPlanSequence", [])}
        check(bool(refs) and refs <= rp_uids, f"{p.name}: references the RT Plan")
    patients = {str(d.PatientID) for _, d in files}
    check(len(patients) == 1, f"one PatientID ({', '.join(sorted(patients))})")
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all references resolve")
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
