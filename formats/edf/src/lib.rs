//! EDF, EDF+ and BDF: reading (streaming, one data record at a time) and writing.
//!
//! Supported ([EDF spec](https://www.edfplus.info/specs/edf.html),
//! [EDF+ spec](https://www.edfplus.info/specs/edfplus.html), BioSemi BDF/BDF+):
//! - plain EDF (16-bit) and BDF (24-bit), EDF+C/EDF+D and BDF+C/BDF+D;
//! - every annotation of every annotation signal (TALs, UTF-8 text, durations), record onsets
//!   from each record's time-keeping TAL (EDF+D), sub-second start times;
//! - signals with different sampling rates in one file, annotation-only files;
//! - digital → physical scaling in float64;
//! - strict headers: a numeric field that is not a number, an absurd signal or record count, or
//!   a data size that does not match the header is an `InvalidData` error (a partial last record
//!   is dropped); nothing is allocated from a header count before it is checked.
//!
//! The [`signal`] module gives the same signal view as the other electrophysiology readers
//! (the `SignalReader` trait of `bomdata-format-core`), EDF+D gaps as segments.
//!
//! Not supported: gap filling for EDF+D (records are reported with their onsets, not padded),
//! the EDF+ "Startdate"/"patient" subfield semantics beyond the start year, writing EDF+D with
//! several annotation signals.
//!
//! ```
//! use bomdata_edf::{Header, Record, io::{Reader, Writer}, header::{Plus, Signal, Variant}};
//! let h = Header::builder(Variant::Bdf)
//!     .with_plus(Plus::Continuous)
//!     .with_n_records(1)
//!     .with_record_duration(0.5)
//!     .with_signal(Signal::new("EMG", "mV", (-1.0, 1.0), (-8_388_608, 8_388_607), 4))
//!     .build()?;
//! let mut w = Writer::new(Vec::new());
//! w.write_header(&h)?;
//! w.write_digital_record(&h, &[&[0, 1, -1, 8_388_607]], &[])?;
//! let bytes = w.finish()?;
//! let mut r = Reader::new(&bytes[..]);
//! let h = r.read_header()?;
//! assert_eq!(h.format_name(), "bdf+c");
//! let mut rec = Record::default();
//! r.read_record(&h, &mut rec)?;
//! let mut d = Vec::new();
//! rec.read_digital(&h, 0, &mut d);
//! assert_eq!(d, [0, 1, -1, 8_388_607]);
//! assert_eq!(rec.annotations(&h)?.onset, Some(0.0));
//! # Ok::<(), std::io::Error>(())
//! ```

pub mod error;
pub mod fs;
pub mod header;
pub mod io;
pub mod probe;
pub mod record;
pub mod signal;

pub use error::DecodeError;
pub use header::Header;
pub use record::{Annotation, Record, RecordRef};
