//! Synthetic MRI/PET trees in the consortium layouts (BIDS, UK Biobank, HCP, ADNI), with small
//! NIfTI files from [`crate::nifti`].

use std::path::Path;

use crate::files::{put, zip_with};
use crate::nifti::{Stored, nifti_bytes};

/// Writes an int16 volume (slope 0.5, inter 10) of `shape` at `root/rel`, gzipped for `.gz`.
pub fn nii(root: &Path, rel: &str, shape: &[u64]) {
    put(
        root,
        rel,
        nifti_bytes(Stored::Int16, shape, 0.5, 10.0, rel.ends_with(".gz")),
    );
}

/// A BIDS tree's readable images: sub-pat01 T1w, FLAIR, a ses-1 BOLD run (top-level sidecar),
/// a ses-1 DWI with bval/bvec; sub-pat02 FDG PET with frame timing; a derivative and a mask
/// that are not raw images.
pub fn bids_recordings(root: &Path) {
    put(
        root,
        "dataset_description.json",
        br#"{"Name": "synthetic", "BIDSVersion": "1.8.0"}"#,
    );
    nii(root, "sub-pat01/anat/sub-pat01_T1w.nii.gz", &[4, 5, 6]);
    nii(root, "sub-pat01/anat/sub-pat01_FLAIR.nii", &[3, 3, 3]);
    nii(
        root,
        "sub-pat01/ses-1/func/sub-pat01_ses-1_task-rest_run-1_bold.nii.gz",
        &[3, 4, 2, 5],
    );
    put(
        root,
        "task-rest_bold.json",
        br#"{"RepetitionTime": 2.0, "TaskName": "rest"}"#,
    );
    nii(
        root,
        "sub-pat01/ses-1/dwi/sub-pat01_ses-1_dwi.nii.gz",
        &[2, 2, 2, 3],
    );
    put(
        root,
        "sub-pat01/ses-1/dwi/sub-pat01_ses-1_dwi.bval",
        b"0 1000 2000\n",
    );
    put(
        root,
        "sub-pat01/ses-1/dwi/sub-pat01_ses-1_dwi.bvec",
        b"0 1 0\n0 0 1\n0 0 0\n",
    );
    nii(
        root,
        "sub-pat02/pet/sub-pat02_trc-FDG_pet.nii.gz",
        &[2, 2, 2, 2],
    );
    put(
        root,
        "sub-pat02/pet/sub-pat02_trc-FDG_pet.json",
        br#"{"FrameTimesStart": [0, 300], "FrameDuration": [300, 300]}"#,
    );
    nii(
        root,
        "derivatives/fmriprep/sub-pat01/anat/sub-pat01_T1w.nii.gz",
        &[2, 2, 2],
    );
    nii(root, "sub-pat01/anat/sub-pat01_T1w_mask.nii.gz", &[2, 2, 2]);
}

/// [`bids_recordings`] plus `sub-pat03/anat/sub-pat03_T1w.nii` with a wrong `sizeof_hdr`.
pub fn bids_tree(root: &Path) {
    bids_recordings(root);
    let mut bad = nifti_bytes(Stored::Int16, &[2, 2, 2], 1.0, 0.0, false);
    bad[0..4].copy_from_slice(&123i32.to_le_bytes());
    put(root, "sub-pat03/anat/sub-pat03_T1w.nii", &bad);
}

/// A UK Biobank tree's readable bulk files: a 20252 T1 zip (T1, T1_brain_to_MNI, T1_brain), a
/// 20250 dMRI zip with bvals/bvecs, a 20227 rfMRI zip, and an unzipped 20253 T2_FLAIR folder.
pub fn ukb_recordings(root: &Path) {
    let t1 = nifti_bytes(Stored::Int16, &[4, 3, 2], 0.5, 10.0, true);
    let mni = nifti_bytes(Stored::Int16, &[5, 4, 3], 0.5, 10.0, true);
    zip_with(
        &root.join("20252/1234567_20252_2_0.zip"),
        &[
            ("T1/T1.nii.gz", &t1),
            ("T1/T1_brain_to_MNI.nii.gz", &mni),
            ("T1/T1_brain.nii.gz", &t1),
        ],
    );
    let dwi = nifti_bytes(Stored::Int16, &[2, 2, 2, 3], 0.5, 10.0, true);
    zip_with(
        &root.join("20250/1234567_20250_2_0.zip"),
        &[
            ("dMRI/dMRI/data_ud.nii.gz", &dwi),
            ("dMRI/dMRI/bvals", b"0 1000 1000"),
            ("dMRI/dMRI/bvecs", b"0 1 0\n0 0 1\n0 0 0"),
        ],
    );
    let bold = nifti_bytes(Stored::Int16, &[3, 3, 2, 4], 0.5, 10.0, true);
    zip_with(
        &root.join("20227/2345678_20227_2_0.zip"),
        &[("fMRI/rfMRI.nii.gz", &bold), ("fMRI/unusable/README", b"x")],
    );
    put(
        root,
        "unzipped/4567890_20253_2_0/T2_FLAIR/T2_FLAIR.nii.gz",
        &t1,
    );
}

/// [`ukb_recordings`] plus a zip with a member escaping the folder and a zip holding a
/// truncated image.
pub fn ukb_tree(root: &Path) {
    ukb_recordings(root);
    let t1 = nifti_bytes(Stored::Int16, &[4, 3, 2], 0.5, 10.0, true);
    zip_with(
        &root.join("20252/3456789_20252_2_0.zip"),
        &[("T1/T1.nii.gz", &t1), ("../evil.sh", b"rm -rf /")],
    );
    let big = nifti_bytes(Stored::Float32, &[30, 30, 30], 1.0, 0.0, true);
    zip_with(
        &root.join("20253/5678901_20253_2_0.zip"),
        &[("T2_FLAIR/T2_FLAIR.nii.gz", &big[..big.len() / 2])],
    );
}

/// An HCP S1200 tree for subject 100307: rfMRI REST1 and tfMRI WM runs, the restored T1w,
/// diffusion with bvals/bvecs, and files that are not volumes (CIFTI, movement regressors).
pub fn hcp_tree(root: &Path) {
    nii(
        root,
        "100307/MNINonLinear/Results/rfMRI_REST1_LR/rfMRI_REST1_LR_hp2000_clean.nii.gz",
        &[3, 3, 3, 4],
    );
    nii(
        root,
        "100307/MNINonLinear/Results/tfMRI_WM_RL/tfMRI_WM_RL.nii.gz",
        &[3, 3, 3, 2],
    );
    put(
        root,
        "100307/MNINonLinear/Results/rfMRI_REST1_LR/rfMRI_REST1_LR_Atlas_hp2000_clean.dtseries.nii",
        b"cifti",
    );
    put(
        root,
        "100307/MNINonLinear/Results/rfMRI_REST1_LR/Movement_Regressors.txt",
        b"0 0 0",
    );
    nii(
        root,
        "100307/MNINonLinear/T1w_restore_brain.nii.gz",
        &[4, 4, 4],
    );
    nii(root, "100307/T1w/Diffusion/data.nii.gz", &[2, 2, 2, 2]);
    put(root, "100307/T1w/Diffusion/bvals", b"5 1000");
    put(root, "100307/T1w/Diffusion/bvecs", b"1 0\n0 1\n0 0");
}

/// An ADNI download tree: two MPRAGE images of one visit, a resting-state fMRI of a later visit
/// with its JSON sidecar, and an AV45 PET of another subject.
pub fn adni_tree(root: &Path) {
    let base = "ADNI/002_S_0295";
    nii(
        root,
        &format!(
            "{base}/MPR__GradWarp__B1_Correction__N3__Scaled/2006-04-18_08_20_30.0/I45108/ADNI_002_S_0295_MR_MPR__GradWarp__B1_Correction__N3__Scaled_Br_20070319113623975_S13408_I45108.nii"
        ),
        &[4, 4, 3],
    );
    nii(
        root,
        &format!(
            "{base}/MPR__GradWarp__B1_Correction__N3__Scaled/2006-04-18_08_20_30.0/I45109/ADNI_002_S_0295_MR_repeat_S13409_I45109.nii"
        ),
        &[4, 4, 3],
    );
    nii(
        root,
        &format!(
            "{base}/Resting_State_fMRI/2011-06-02_07_56_36.0/I238623/ADNI_002_S_0295_MR_Resting_State_fMRI_S110476_I238623.nii.gz"
        ),
        &[3, 3, 2, 3],
    );
    put(
        root,
        &format!(
            "{base}/Resting_State_fMRI/2011-06-02_07_56_36.0/I238623/ADNI_002_S_0295_MR_Resting_State_fMRI_S110476_I238623.json"
        ),
        br#"{"RepetitionTime": 3.0}"#,
    );
    nii(
        root,
        "ADNI/941_S_1195/AV45_Coreg,_Avg,_Std_Img_and_Vox_Siz,_Uniform_Resolution/2011-05-20_10_00_00.0/I250000/ADNI_941_S_1195_PT_AV45_S1_I250000.nii",
        &[3, 3, 3],
    );
}
