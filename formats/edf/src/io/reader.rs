//! [`Reader`]: reads the header, then one data record at a time.

use std::io::{self, Read, Seek, SeekFrom};

use crate::error::DecodeError;
use crate::header::{FIXED_LEN, Header};
use crate::record::Record;

/// An EDF/BDF reader over any byte source. Memory use is one data record, whatever the length
/// of the recording.
///
/// ```
/// use bomdata_edf::{Header, Record, io::{Reader, Writer}, header::{Signal, Variant}};
/// let h = Header::builder(Variant::Edf)
///     .with_n_records(2)
///     .with_signal(Signal::new("Cz", "uV", (-100.0, 100.0), (-100, 100), 3))
///     .build()?;
/// let mut w = Writer::new(Vec::new());
/// w.write_header(&h)?;
/// w.write_digital_record(&h, &[&[1, 2, 3]], &[])?;
/// w.write_digital_record(&h, &[&[4, 5, 6]], &[])?;
/// let bytes = w.finish()?;
///
/// let mut r = Reader::new(&bytes[..]);
/// let header = r.read_header()?;
/// let mut rec = Record::default();
/// let mut values = Vec::new();
/// while r.read_record(&header, &mut rec)? != 0 {
///     rec.read_physical(&header, 0, &mut values);
/// }
/// assert_eq!(values, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Reader<R> {
    inner: R,
    next_record: u64,
    limit: Option<u64>,
}

impl<R> Reader<R> {
    /// A reader positioned at the start of a file.
    pub fn new(inner: R) -> Self {
        Reader {
            inner,
            next_record: 0,
            limit: None,
        }
    }

    /// The inner reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The inner reader, mutably.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Unwraps the inner reader.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Stops after `n` records (set from [`Header::records_in_file`] when the file size is known).
    pub fn set_record_limit(&mut self, n: u64) {
        self.limit = Some(n);
    }
}

fn read_up_to<R: Read>(inner: &mut R, len: usize, buf: &mut Vec<u8>) -> io::Result<usize> {
    buf.clear();
    // `take` + `read_to_end` grows the buffer only as bytes arrive, so a lying header cannot
    // make us allocate more than the data that is really there.
    inner.take(len as u64).read_to_end(buf)
}

impl<R: Read> Reader<R> {
    /// Reads and validates the header. Call first.
    pub fn read_header(&mut self) -> io::Result<Header> {
        let mut buf = Vec::with_capacity(FIXED_LEN);
        let n = read_up_to(&mut self.inner, FIXED_LEN, &mut buf)?;
        if n < FIXED_LEN {
            return Err(DecodeError::TruncatedHeader {
                expected: FIXED_LEN as u64,
                actual: n as u64,
            }
            .into());
        }
        let ns = Header::parse_signal_count(&buf)?;
        let rest = FIXED_LEN * ns;
        let mut sig = Vec::new();
        let got = read_up_to(&mut self.inner, rest, &mut sig)?;
        if got < rest {
            return Err(DecodeError::TruncatedHeader {
                expected: (FIXED_LEN + rest) as u64,
                actual: (FIXED_LEN + got) as u64,
            }
            .into());
        }
        buf.extend_from_slice(&sig);
        let h = Header::parse(&buf)?;
        self.next_record = 0;
        self.limit = h.n_records;
        Ok(h)
    }

    /// Reads the next data record into `record`; returns the bytes read, 0 at the end.
    ///
    /// A partial last record is dropped (returns 0); data that ends before the last announced
    /// record is an error.
    pub fn read_record(&mut self, header: &Header, record: &mut Record) -> io::Result<usize> {
        if self.limit.is_some_and(|n| self.next_record >= n) {
            return Ok(0);
        }
        let len = header.record_len();
        if len == 0 {
            return Ok(0);
        }
        if record.buf.capacity() >= len {
            record.buf.resize(len, 0);
            let mut filled = 0;
            while filled < len {
                match self.inner.read(&mut record.buf[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            record.buf.truncate(filled);
        } else {
            read_up_to(&mut self.inner, len, &mut record.buf)?;
        }
        let got = record.buf.len();
        if got == len {
            record.index = self.next_record;
            self.next_record += 1;
            return Ok(len);
        }
        let is_last = self.limit.is_some_and(|n| self.next_record + 1 == n);
        if (got == 0 && self.limit.is_none()) || (got > 0 && (is_last || self.limit.is_none())) {
            // Clean end of an unknown-length file, or a partial last record: dropped.
            self.limit = Some(self.next_record);
            return Ok(0);
        }
        Err(DecodeError::TruncatedData {
            record: self.next_record,
            offset: header.header_len() + self.next_record * len as u64 + got as u64,
            n_records: self.limit.unwrap_or(0),
        }
        .into())
    }

    /// An iterator over the remaining records.
    pub fn records<'a>(&'a mut self, header: &'a Header) -> Records<'a, R> {
        Records {
            reader: self,
            header,
        }
    }
}

impl<R: Read + Seek> Reader<R> {
    /// Positions the reader at record `i` (0-based).
    pub fn seek_to_record(&mut self, header: &Header, i: u64) -> io::Result<()> {
        let pos = header
            .header_len()
            .saturating_add(i.saturating_mul(header.record_len() as u64));
        self.inner.seek(SeekFrom::Start(pos))?;
        self.next_record = i;
        Ok(())
    }
}

/// Iterator over data records, from [`Reader::records`].
#[derive(Debug)]
pub struct Records<'a, R> {
    reader: &'a mut Reader<R>,
    header: &'a Header,
}

impl<R: Read> Iterator for Records<'_, R> {
    type Item = io::Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut rec = Record::default();
        match self.reader.read_record(self.header, &mut rec) {
            Ok(0) => None,
            Ok(_) => Some(Ok(rec)),
            Err(e) => Some(Err(e)),
        }
    }
}
