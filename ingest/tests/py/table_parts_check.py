"""Reference check of the table parts `bomdata ingest` writes for Olink, BIOM and clinical tables.

`ids SPEC`: prints the subject IDs of every source file in SPEC (pandas / json reads), so the
test can give their pseudonyms. `check SPEC`: reads every written part with pyarrow and compares
every value, mask, feature ID, subject and session with what pandas reads from the source file;
prints a JSON summary of what was compared, exits 1 naming the first difference.
"""
import json
import re
import sys
from datetime import date

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

CONTROL = ("control", "ctrl")
FOOTERS = ("LOD", "Missing Data freq.", "Normalization")


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def read_olink_long(path):
    if path.endswith(".parquet"):
        return pd.read_parquet(path)
    if path.endswith(".xlsx"):
        return pd.read_excel(path)
    return pd.read_csv(path, sep=None, engine="python")


def first(df, names):
    return next((n for n in names if n in df.columns), None)


def warn(v):
    return not (v is None or (isinstance(v, float) and np.isnan(v))) and str(v).strip().lower() != "pass"


def olink_expected_long(df):
    """{sample: {assay: (npx, qc, assay_qc, below_lod)}} and the mask columns present."""
    sqc = first(df, ["QC_Warning", "SampleQC"])
    aqc = first(df, ["Assay_Warning", "AssayQC"])
    typ = first(df, ["Sample_Type", "SampleType"])
    lod = first(df, ["LOD", "PlateLOD", "MaxLOD"])
    cells = {}
    for _, r in df.iterrows():
        sid = str(r["SampleID"])
        t = r[typ] if typ else None
        if (t is not None and not pd.isna(t) and str(t).strip().lower() != "sample") or any(
            c in sid.lower() for c in CONTROL
        ) or "bridge" in sid.lower():
            continue
        npx = float(r["NPX"]) if not pd.isna(r["NPX"]) else float("nan")
        lv = float(r[lod]) if lod and not pd.isna(r[lod]) else float("nan")
        key = (sid, str(r["OlinkID"]))
        if key in cells:
            fail(f"repeated pair {key}")
        cells[key] = (
            npx,
            warn(r[sqc]) if sqc else False,
            warn(r[aqc]) if aqc else False,
            bool(np.isfinite(npx) and np.isfinite(lv) and npx < lv),
        )
    masks = [m for m, c in [("qc_warning", sqc), ("assay_warning", aqc), ("below_lod", lod)] if c]
    return cells, masks


def olink_expected_wide(path):
    d = pd.read_excel(path, header=None)
    col0 = [str(x) if not pd.isna(x) else "" for x in d[0]]
    r_oid = col0.index("OlinkID")
    above = lambda label: max(i for i in range(r_oid) if col0[i] == label)
    r_panel, r_assay = above("Panel"), above("Assay")
    assays = [(c, str(d.iat[r_oid, c]), d.iat[r_panel, c]) for c in range(1, d.shape[1]) if not pd.isna(d.iat[r_oid, c])]
    qc = {d.iat[r_panel, c]: c for c in range(1, d.shape[1]) if d.iat[r_assay, c] == "QC Warning"}
    r_lod = col0.index("LOD") if "LOD" in col0 else None
    samples = [i for i in range(r_oid + 1, r_lod if r_lod is not None else d.shape[0]) if col0[i] and col0[i] not in FOOTERS]
    cells = {}
    for i in samples:
        sid = col0[i]
        if any(c in sid.lower() for c in CONTROL) or "bridge" in sid.lower():
            continue
        for c, oid, panel in assays:
            v = d.iat[i, c]
            npx = float(v) if not pd.isna(v) else float("nan")
            lv = float(d.iat[r_lod, c]) if r_lod is not None and not pd.isna(d.iat[r_lod, c]) else float("nan")
            cells[(sid, oid)] = (
                npx,
                warn(d.iat[i, qc[panel]]) if panel in qc else False,
                False,
                bool(np.isfinite(npx) and np.isfinite(lv) and npx < lv),
            )
    masks = ["qc_warning"] + (["below_lod"] if r_lod is not None else [])
    return cells, masks


def same_f32(a, b):
    a, b = np.float32(a), np.float32(b)
    return (np.isnan(a) and np.isnan(b)) or a == b


def part_table(path):
    t = pq.read_table(path)
    meta = {k.decode(): v.decode() for k, v in (t.schema.metadata or {}).items()}
    return t, t.to_pydict(), meta


def check_keys(where, rows, subjects, pseudo, sessions=None):
    want = [pseudo[s] for s in subjects]
    if rows["subject"] != want:
        fail(f"{where}: subjects {rows['subject'][:3]}... != {want[:3]}...")
    want_s = sessions if sessions is not None else [""] * len(subjects)
    if rows["session"] != want_s:
        fail(f"{where}: sessions {rows['session']} != {want_s}")


def check_olink(src, part, pseudo, counts):
    if src.endswith(".xlsx") and "OlinkID" not in read_olink_long(src).columns:
        cells, masks = olink_expected_wide(src)
    else:
        cells, masks = olink_expected_long(read_olink_long(src))
    t, rows, meta = part_table(part)
    samples = sorted({k[0] for k in cells})
    assays = sorted({k[1] for k in cells})
    if json.loads(meta["bomdata.features"]) != assays:
        fail(f"{src}: features differ")
    want_cols = ["subject", "session", "values"] + ["mask." + m for m in masks]
    if t.column_names != want_cols:
        fail(f"{src}: columns {t.column_names} != {want_cols}")
    if str(t.schema.field("values").type) != f"fixed_size_list<item: float not null>[{len(assays)}]":
        fail(f"{src}: values type {t.schema.field('values').type}")
    check_keys(src, rows, samples, pseudo)
    for i, s in enumerate(samples):
        for j, a in enumerate(assays):
            npx, q, aw, bl = cells.get((s, a), (float("nan"), False, False, False))
            if not same_f32(rows["values"][i][j], npx):
                fail(f"{src}: NPX of {s}/{a}: {rows['values'][i][j]} != {npx}")
            for m, want in [("qc_warning", q), ("assay_warning", aw), ("below_lod", bl)]:
                if m in masks and rows["mask." + m][i][j] != want:
                    fail(f"{src}: {m} of {s}/{a}: {rows['mask.' + m][i][j]} != {want}")
            counts["olink_values"] += 1
    counts["olink_masks"] += len(masks) * len(samples) * len(assays)
    if meta["bomdata.value"] != '"npx"':
        fail(f"{src}: value kind {meta['bomdata.value']}")


def biom_frame(src):
    b = json.load(open(src))
    obs = [r["id"] for r in b["rows"]]
    smp = [c["id"] for c in b["columns"]]
    m = np.zeros(b["shape"])
    if b["matrix_type"] == "sparse":
        for r, c, v in b["data"]:
            m[r, c] = v
    else:
        m[:, :] = b["data"]
    tax = [";".join(r["metadata"]["taxonomy"]) if r.get("metadata") and r["metadata"].get("taxonomy") else "" for r in b["rows"]]
    return pd.DataFrame(m.T, index=smp, columns=obs), tax


def check_biom(src, part, pseudo, counts):
    df, tax = biom_frame(src)
    t, rows, meta = part_table(part)
    if t.column_names != ["subject", "session", "values"]:
        fail(f"{src}: columns {t.column_names}")
    if json.loads(meta["bomdata.features"]) != list(df.columns):
        fail(f"{src}: features differ")
    if any(tax) and json.loads(meta["bomdata.taxonomy"]) != tax:
        fail(f"{src}: taxonomy {meta['bomdata.taxonomy']} != {tax}")
    check_keys(src, rows, list(df.index), pseudo)
    for i, s in enumerate(df.index):
        for j, o in enumerate(df.columns):
            if not same_f32(rows["values"][i][j], df.at[s, o]):
                fail(f"{src}: {s}/{o}: {rows['values'][i][j]} != {df.at[s, o]}")
            counts["biom_values"] += 1


def days(iso):
    y, m, d = (int(x) for x in iso.split("-"))
    return date(y, m, d).toordinal()


def source_days(s):
    p = s.replace("/", "-").split("-")
    return date(int(p[0]), int(p[1]), int(p[2])).toordinal() if len(p[0]) == 4 else date(int(p[2]), int(p[1]), int(p[0])).toordinal()


def check_clinical(src, mapping, part, pseudo, counts):
    df = pd.read_csv(src, dtype=str, keep_default_na=False, na_values=["", "NA"])
    mp = pd.read_csv(mapping, sep="\t", dtype=str, keep_default_na=False)
    t, rows, meta = part_table(part)
    numeric = mp[mp["type"] == "numeric"]
    factor = {("pg/mL", "ng/L"): 1.0, ("ng/mL", "pg/mL"): 1000.0, ("", ""): 1.0}
    if json.loads(meta["bomdata.features"]) != list(numeric["variable"]):
        fail(f"{src}: features differ")
    col = lambda var: mp[mp["variable"] == var]["column"].iloc[0]
    visit = df[col("visit")].tolist()
    exam = col("exam_date")
    ids = df[col("subject_id")].tolist()
    if rows["subject"] != [pseudo[s] for s in ids]:
        fail(f"{src}: subjects differ")
    for i in range(len(df)):
        # A visit that is a date is shifted as the row's other dates: same distance to the exam date.
        v, got = visit[i], rows["session"][i]
        if re.fullmatch(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4}", v):
            if got == v or days(got) - days(rows["exam_date"][i]) != source_days(v) - source_days(df.at[i, exam]):
                fail(f"{src}: visit {v!r} -> {got!r}")
        elif got != v:
            fail(f"{src}: visit {v!r} -> {got!r}")
        for j, (_, m) in enumerate(numeric.iterrows()):
            cell = df.at[i, m["column"]]
            x = float(cell) * factor[(m["unit"], m["canonical_unit"] or m["unit"])] if not pd.isna(cell) else float("nan")
            oor = bool(m["min"] != "" and np.isfinite(x) and (x < float(m["min"]) or x > float(m["max"])))
            if not same_f32(rows["values"][i][j], x) or rows["mask.out_of_range"][i][j] != oor:
                fail(f"{src}: row {i} {m['variable']}: {rows['values'][i][j]}/{rows['mask.out_of_range'][i][j]} != {x}/{oor}")
            counts["clinical_values"] += 1
        for _, m in mp[mp["type"] == "categorical"].iterrows():
            if m["variable"] == "visit":
                continue
            levels = dict(p.split("=", 1) for p in m["levels"].split("|") if "=" in p)
            cell = df.at[i, m["column"]]
            want = None if pd.isna(cell) else levels.get(cell, cell)
            if rows[m["variable"]][i] != want:
                fail(f"{src}: row {i} {m['variable']}: {rows[m['variable']][i]!r} != {want!r}")
            counts["clinical_categories"] += 1
        shifts = set()
        for _, m in mp[mp["type"] == "date"].iterrows():
            cell, got = df.at[i, m["column"]], rows[m["variable"]][i]
            if pd.isna(cell):
                if got is not None:
                    fail(f"{src}: row {i} {m['variable']}: {got!r} for a missing date")
                continue
            if got == cell:
                fail(f"{src}: row {i} {m['variable']}: date written verbatim")
            shifts.add(days(got) - source_days(cell))
            counts["clinical_dates"] += 1
        if len(shifts) > 1 or 0 in shifts:
            fail(f"{src}: row {i}: dates shifted by {shifts}")
    for _, m in mp[mp["type"].isin(["text", "identifier"])].iterrows():
        if m["variable"] in t.column_names:
            fail(f"{src}: {m['variable']} is a column")


def main():
    mode, spec = sys.argv[1], json.load(open(sys.argv[2]))
    if mode == "ids":
        ids = set()
        for src, _ in spec["olink"]:
            if src.endswith(".xlsx") and "OlinkID" not in read_olink_long(src).columns:
                ids |= {k[0] for k in olink_expected_wide(src)[0]}
            else:
                ids |= {str(s) for s in read_olink_long(src)["SampleID"]}
        for src, _ in spec["biom"]:
            ids |= set(biom_frame(src)[0].index)
        for src, mapping, _ in spec["clinical"]:
            mp = pd.read_csv(mapping, sep="\t", dtype=str, keep_default_na=False)
            c = mp[mp["variable"] == "subject_id"]["column"].iloc[0]
            ids |= set(pd.read_csv(src, dtype=str)[c])
        print(json.dumps(sorted(ids)))
        return
    counts = {"olink_values": 0, "olink_masks": 0, "biom_values": 0, "clinical_values": 0,
              "clinical_categories": 0, "clinical_dates": 0}
    pseudo = spec["pseudonyms"]
    for src, part in spec["olink"]:
        check_olink(src, part, pseudo["olink"], counts)
    for src, part in spec["biom"]:
        check_biom(src, part, pseudo["biom"], counts)
    for src, mapping, part in spec["clinical"]:
        check_clinical(src, mapping, part, pseudo["clinical"], counts)
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
