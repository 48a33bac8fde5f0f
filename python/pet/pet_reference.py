"""NumPy reference of bomdata's `pet` profile (profiles/src/mri/pet.rs), written from the
method, not from the Rust code: frames of a dynamic PET image averaged over a window from
injection (weighted by overlap seconds, or only frames wholly inside), optionally as
body-weight SUV with the dose decay-corrected to the image's decay-correction time (or each
frame corrected to injection when the image is not decay corrected).

usage: pet_reference.py IMAGE SIDECAR PARAMS OUT
  IMAGE    4-D image: .nii/.nii.gz (nibabel, scaled) or .npy (x, y, z, t)
  SIDECAR  BIDS PET sidecar JSON (FrameTimesStart, FrameDuration, InjectionStart, Units,
           InjectedRadioactivity(+Units), BodyWeight, ImageDecayCorrected,
           ImageDecayCorrectionTime, TracerRadionuclide or RadionuclideHalfLife)
  PARAMS   JSON: window (amyloid|tau|fdg) or start_s/end_s, overlap, suv, half_life_s
  OUT      .npy float64 (x, y, z); exits 3 with a message when the profile must refuse
"""
import json
import math
import sys

import numpy as np

PRESETS = {"amyloid": (3000.0, 4200.0), "tau": (4800.0, 6000.0), "fdg": (1800.0, 3600.0)}
HALF_LIFE = {"F18": 6586.2, "C11": 1223.4, "O15": 122.24, "N13": 597.9, "GA68": 4062.6}
IMAGE_UNITS = {"bq/ml": 1.0, "bqml": 1.0, "kbq/ml": 1e3, "mbq/ml": 1e6}
DOSE_UNITS = {"bq": 1.0, "kbq": 1e3, "mbq": 1e6, "gbq": 1e9, "uci": 3.7e4, "mci": 3.7e7}


def refuse(msg):
    print(msg, file=sys.stderr)
    sys.exit(3)


def load(path):
    if path.endswith(".npy"):
        return np.load(path).astype(np.float64)
    import nibabel as nib

    return np.asarray(nib.load(path).get_fdata(dtype=np.float64))


def main(image, sidecar, params, out):
    img = load(image)
    side = json.load(open(sidecar))
    p = json.load(open(params))
    w0, w1 = PRESETS[p.get("window", "amyloid")]
    if "start_s" in p:
        w0, w1 = float(p["start_s"]), float(p["end_s"])
    starts = np.asarray(side["FrameTimesStart"], float) - float(side["InjectionStart"])
    durs = np.asarray(side["FrameDuration"], float)
    ends = starts + durs
    if p.get("overlap", "weight") == "weight":
        w = np.clip(np.minimum(ends, w1) - np.maximum(starts, w0), 0.0, None)
    else:
        w = np.where((starts >= w0) & (ends <= w1), durs, 0.0)
    if w.sum() <= 0:
        refuse("no frame covers the window")
    factor = np.ones_like(w)
    if p.get("suv", False):
        if "BodyWeight" not in side:
            refuse("SUV asked but the body weight is missing")
        u = IMAGE_UNITS[side["Units"].lower()]
        dose = side["InjectedRadioactivity"] * DOSE_UNITS[side["InjectedRadioactivityUnits"].lower()]
        half = p.get("half_life_s") or side.get("RadionuclideHalfLife") or HALF_LIFE[side["TracerRadionuclide"]]
        lam = math.log(2) / half
        grams = side["BodyWeight"] * 1000.0
        if side["ImageDecayCorrected"]:
            r = side["ImageDecayCorrectionTime"] - side["InjectionStart"]
            factor = factor * u * grams / (dose * math.exp(-lam * r))
        else:
            # Frame k's mean activity over [a, a + d] back to injection: lam*d*e^(lam*a)/(1-e^(-lam*d)).
            factor = u * grams / dose * lam * durs * np.exp(lam * starts) / (1.0 - np.exp(-lam * durs))
    static = np.tensordot(img, w * factor, axes=([3], [0])) / w.sum()
    np.save(out, static)


if __name__ == "__main__":
    main(*sys.argv[1:5])
