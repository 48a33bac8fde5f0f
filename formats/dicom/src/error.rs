//! Why a DICOM file was refused: one lowercase line naming the element or position that is wrong.

use std::io;

/// Why a DICOM file was refused.
///
/// Wrapped in an [`io::Error`] (kind [`io::ErrorKind::InvalidData`], or
/// [`io::ErrorKind::Unsupported`] for [`DicomError::UnsupportedTransferSyntax`]) by the reader;
/// [`io::Error::get_ref`] gives this value back.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum DicomError {
    /// No `DICM` magic at byte 128.
    #[error("no DICM magic at byte 128 (not a DICOM PS3.10 file)")]
    Magic,
    /// The file ends inside an element header or value.
    #[error("file ends inside element ({group:04X},{element:04X}) at byte {offset}")]
    Truncated {
        /// Group of the element being read.
        group: u16,
        /// Element number.
        element: u16,
        /// Byte offset (in the decoded data set stream) where it starts.
        offset: usize,
    },
    /// A value length runs past the end of the data.
    #[error(
        "element ({group:04X},{element:04X}) at byte {offset} has length {length}, only {left} bytes remain"
    )]
    Length {
        /// Group.
        group: u16,
        /// Element.
        element: u16,
        /// Offset of the element.
        offset: usize,
        /// Stored length.
        length: u64,
        /// Bytes left.
        left: usize,
    },
    /// An undefined length on an element that cannot have one.
    #[error("element ({group:04X},{element:04X}) at byte {offset} has an undefined length")]
    UndefinedLength {
        /// Group.
        group: u16,
        /// Element.
        element: u16,
        /// Offset.
        offset: usize,
    },
    /// Sequence items nested deeper than the reader allows.
    #[error("sequences nested deeper than {0} levels")]
    TooDeep(usize),
    /// A sequence or encapsulated pixel data holds something other than an item.
    #[error("expected an item tag (FFFE,E000) at byte {offset}, found ({group:04X},{element:04X})")]
    NotAnItem {
        /// Group found.
        group: u16,
        /// Element found.
        element: u16,
        /// Offset.
        offset: usize,
    },
    /// The file meta group has no transfer syntax UID.
    #[error("file meta has no transfer syntax uid (0002,0010)")]
    NoTransferSyntax,
    /// A transfer syntax this build does not decode.
    #[error("unsupported transfer syntax {0}")]
    UnsupportedTransferSyntax(String),
    /// The deflated data set does not inflate.
    #[error("deflated data set does not inflate: {0}")]
    Inflate(String),
    /// A required image attribute is missing.
    #[error("image attribute {0} ({1}) is missing")]
    Missing(&'static str, &'static str),
    /// An image attribute has a value this reader cannot use.
    #[error("image attribute {name} has unusable value {value}")]
    BadValue {
        /// Keyword.
        name: &'static str,
        /// The value as text.
        value: String,
    },
    /// The pixel data is shorter than rows × columns × frames × samples × bits allocated.
    #[error("pixel data has {got} bytes, the image attributes need {need}")]
    PixelDataShort {
        /// Bytes present.
        got: u64,
        /// Bytes needed.
        need: u64,
    },
    /// The file has no pixel data element.
    #[error("no pixel data (7FE0,0010)")]
    NoPixelData,
    /// A compressed frame does not decode (the codec's message).
    #[error("frame {frame}: {message}")]
    Codec {
        /// Frame index.
        frame: usize,
        /// The codec's message.
        message: String,
    },
    /// A JPEG-LS codestream is damaged or uses a feature this decoder lacks.
    #[error("jpeg-ls frame {frame}: {what}")]
    JpegLs {
        /// Frame index.
        frame: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// A 12-bit JPEG frame is damaged or uses a feature this decoder lacks.
    #[error("12-bit jpeg frame {frame}: {what}")]
    Jpeg12 {
        /// Frame index.
        frame: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// An RLE frame is damaged.
    #[error("rle frame {frame}: {what}")]
    Rle {
        /// Frame index.
        frame: usize,
        /// What is wrong.
        what: &'static str,
    },
}

impl From<DicomError> for io::Error {
    fn from(e: DicomError) -> io::Error {
        let kind = match e {
            DicomError::UnsupportedTransferSyntax(_) => io::ErrorKind::Unsupported,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}

/// Why a set of instances does not make one volume.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum SeriesError {
    /// No instances were given.
    #[error("the series has no instances")]
    Empty,
    /// A file could not be read from disk.
    #[error("{path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// An instance could not be parsed or decoded.
    #[error("{path}: {error}")]
    Instance {
        /// The file.
        path: String,
        /// Why.
        error: DicomError,
    },
    /// An instance lacks a geometry attribute the volume needs.
    #[error("{path}: {keyword} is missing or malformed")]
    Geometry {
        /// The file.
        path: String,
        /// The attribute.
        keyword: &'static str,
    },
    /// Instances differ in size, orientation or pixel spacing.
    #[error("{path}: {what} differs from the first instance's")]
    Mixed {
        /// The file.
        path: String,
        /// Which attribute.
        what: &'static str,
    },
    /// Slice positions hold different numbers of instances (a volume missing slices).
    #[error("slice positions hold from {min} to {max} instances")]
    Uneven {
        /// Fewest instances at one position.
        min: usize,
        /// Most.
        max: usize,
    },
    /// The gaps between slices differ.
    #[error("slice spacing is not uniform: gaps from {min} to {max} mm")]
    Spacing {
        /// Smallest gap.
        min: f64,
        /// Largest gap.
        max: f64,
    },
    /// The slices are stacked at an angle to their normal (tilted gantry).
    #[error("slices are stacked {degrees:.3} degrees off their normal (tilted gantry)")]
    Tilted {
        /// The angle.
        degrees: f64,
    },
    /// The array handed to [`crate::corder::Headers::fill_c_order_f32`] has the wrong size.
    #[error("the output array has {got} bytes, the series needs {need}")]
    OutputSize {
        /// Bytes given.
        got: usize,
        /// Bytes needed.
        need: usize,
    },
    /// Multi-frame or colour instances are not stacked by this function.
    #[error("{path}: only single-frame, single-sample instances are stacked")]
    NotSingleFrame {
        /// The file.
        path: String,
    },
    /// A multi-frame object's per-frame functional groups do not match its NumberOfFrames.
    #[error(
        "{path}: PerFrameFunctionalGroupsSequence has {items} items for NumberOfFrames {frames}"
    )]
    FrameCount {
        /// The file.
        path: String,
        /// Items in the sequence.
        items: usize,
        /// NumberOfFrames.
        frames: usize,
    },
    /// Colour (SamplesPerPixel > 1) images are not stacked into volumes.
    #[error("{path}: colour images (SamplesPerPixel > 1) are not stacked into volumes")]
    Colour {
        /// The file.
        path: String,
    },
    /// A Siemens mosaic (ImageType `MOSAIC`: the slices of a volume tiled in one image) given to
    /// a stacker of other instances (it goes through [`crate::mosaic::stack`]).
    #[error("{path}: a Siemens mosaic (ImageType MOSAIC) is unpacked by the mosaic stacker only")]
    Mosaic {
        /// The file.
        path: String,
    },
    /// A Siemens CSA header could not be read.
    #[error("{path}: {error}")]
    Csa {
        /// The file.
        path: String,
        /// What is wrong with the header.
        error: crate::csa::CsaError,
    },
    /// A Siemens mosaic without NumberOfImagesInMosaic (CSA image header or (0019,xx0A)).
    #[error("{path}: Siemens mosaic without NumberOfImagesInMosaic (CSA header or (0019,xx0A))")]
    MosaicCount {
        /// The file.
        path: String,
    },
    /// A Siemens mosaic whose size is not a whole grid of tiles for its number of images.
    #[error("{path}: a {rows}x{columns} mosaic cannot tile {images} images in a square grid")]
    MosaicGrid {
        /// The file.
        path: String,
        /// NumberOfImagesInMosaic.
        images: usize,
        /// The mosaic's rows.
        rows: usize,
        /// The mosaic's columns.
        columns: usize,
    },
    /// The images of one volume (one time point / diffusion direction) carry different
    /// diffusion encodings, so the volumes cannot be told apart.
    #[error("{path}: slices of volume {volume} have different diffusion encodings")]
    DiffusionMismatch {
        /// The file (and frame) that differs.
        path: String,
        /// The volume index.
        volume: usize,
    },
}
