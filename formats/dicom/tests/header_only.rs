//! `open_header` (planning) stops at PixelData: same attributes as a full parse, no pixel
//! element, and a file whose pixel data is cut short still plans.

use bomdata_testdata::dicom::{Series, instance};

#[test]
fn header_only_parse_stops_at_pixel_data() {
    let d = tempfile::tempdir().unwrap();
    let mut s = Series::axial("HDR-PATIENT", 3, "t1", 2);
    s.rows = 128;
    s.cols = 128;
    let bytes = instance(&s, 1, 0);
    let p = d.path().join("a.dcm");
    std::fs::write(&p, &bytes).unwrap();
    let full = bomdata_dicom::open(&p).unwrap();
    let head = bomdata_dicom::open_header(&p).unwrap();
    assert!(full.elements.contains_key(&0x7FE0_0010));
    assert!(!head.elements.contains_key(&0x7FE0_0010));
    assert_eq!(head.text(0x0020_000E), full.text(0x0020_000E));
    assert_eq!(head.numbers(0x0020_0032), full.numbers(0x0020_0032));
    assert_eq!(
        head.elements.len() + 1,
        full.elements.len(),
        "every attribute but PixelData"
    );
    // 128×128×2 bytes of pixels: the 16 KiB first read ends inside them.
    assert!(bytes.len() > 32 * 1024);
    // Pixel data cut short: a full parse refuses, planning does not need it.
    let cut = d.path().join("cut.dcm");
    std::fs::write(&cut, &bytes[..bytes.len() - 1000]).unwrap();
    assert!(bomdata_dicom::open(&cut).is_err());
    let h = bomdata_dicom::open_header(&cut).unwrap();
    assert_eq!(h.text(0x0010_0020).as_deref(), Some("HDR-PATIENT"));
}
