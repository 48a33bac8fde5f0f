//! Deterministic tar (POSIX ustar, with a pax record for long names) member headers.
//!
//! Every header has mtime 0, uid/gid 0, empty owner names and mode 0644, so the bytes of a
//! shard depend only on the member names and data. Python's `tarfile` (and so `webdataset`)
//! reads these headers as written.

/// Size of a tar block.
pub const BLOCK: u64 = 512;

/// Bytes of zero padding after `size` data bytes to reach a block boundary.
pub fn padding(size: u64) -> u64 {
    (BLOCK - size % BLOCK) % BLOCK
}

/// The end-of-archive marker: two zero blocks.
pub const END: [u8; 1024] = [0; 1024];

fn octal(field: &mut [u8], value: u64) {
    // Width-1 octal digits, zero-padded, then NUL.
    let width = field.len() - 1;
    let s = format!("{value:0width$o}");
    field[..width].copy_from_slice(&s.as_bytes()[s.len() - width..]);
    field[width] = 0;
}

fn ustar_block(name: &[u8], size: u64, typeflag: u8) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name);
    octal(&mut h[100..108], 0o644);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], 0);
    h[156] = typeflag;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    octal(&mut h[329..337], 0);
    octal(&mut h[337..345], 0);
    // Checksum: sum of all bytes with the checksum field taken as spaces.
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    let c = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(c.as_bytes());
    h
}

/// Largest size the 11-digit octal field holds.
const MAX_OCTAL_SIZE: u64 = 0o77_777_777_777;

/// The header bytes (one block, or a pax header plus data plus a ustar block) for a regular
/// file member named `name` holding `size` bytes.
///
/// ```
/// let h = bomdata_shard::tar::header("k.x.npy", 10);
/// assert_eq!(h.len(), 512);
/// assert_eq!(&h[257..262], b"ustar");
/// ```
pub fn header(name: &str, size: u64) -> Vec<u8> {
    let nb = name.as_bytes();
    if nb.len() <= 100 && size <= MAX_OCTAL_SIZE {
        return ustar_block(nb, size, b'0').to_vec();
    }
    let mut records = Vec::new();
    if nb.len() > 100 {
        records.extend(pax_record("path", name));
    }
    if size > MAX_OCTAL_SIZE {
        records.extend(pax_record("size", &size.to_string()));
    }
    let short: Vec<u8> = nb.iter().take(100).copied().collect();
    let mut out = ustar_block(b"././@PaxHeader", records.len() as u64, b'x').to_vec();
    out.extend_from_slice(&records);
    out.resize(out.len() + padding(records.len() as u64) as usize, 0);
    out.extend_from_slice(&ustar_block(&short, size.min(MAX_OCTAL_SIZE), b'0'));
    out
}

fn pax_record(key: &str, value: &str) -> Vec<u8> {
    // "<len> <key>=<value>\n" where len counts itself.
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while (len.to_string().len() + body.len()) != len {
        len = len.to_string().len() + body.len();
    }
    format!("{len}{body}").into_bytes()
}

/// One member parsed from a tar header during sequential reading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Member name.
    pub name: String,
    /// Offset of the member's data.
    pub data_offset: u64,
    /// Data size.
    pub size: u64,
}

/// Parses the members of a tar held in memory (regular files only; pax `path`/`size` honoured).
/// Stops at the end-of-archive marker. Errors describe the offset of the bad header.
pub fn entries(buf: &[u8]) -> Result<Vec<Entry>, String> {
    let mut out = Vec::new();
    let mut pos: u64 = 0;
    let mut pax_path: Option<String> = None;
    let mut pax_size: Option<u64> = None;
    let len = buf.len() as u64;
    while pos + BLOCK <= len {
        let h = &buf[pos as usize..(pos + BLOCK) as usize];
        if h.iter().all(|&b| b == 0) {
            return Ok(out);
        }
        let stored: u32 =
            parse_octal(&h[148..156]).ok_or(format!("bad checksum field at {pos}"))? as u32;
        let mut sum: u32 = h.iter().map(|&b| b as u32).sum();
        sum = sum - h[148..156].iter().map(|&b| b as u32).sum::<u32>() + 8 * b' ' as u32;
        if sum != stored {
            return Err(format!("header checksum mismatch at offset {pos}"));
        }
        let size = match pax_size.take() {
            Some(s) => s,
            None => parse_octal(&h[124..136]).ok_or(format!("bad size field at {pos}"))?,
        };
        let data = pos + BLOCK;
        let end = data
            .checked_add(size)
            .filter(|&e| e <= len)
            .ok_or(format!("member at {pos} runs past the end of the file"))?;
        let typeflag = h[156];
        if typeflag == b'x' {
            let text = String::from_utf8_lossy(&buf[data as usize..end as usize]).to_string();
            for line in text.lines() {
                if let Some((_, kv)) = line.split_once(' ') {
                    if let Some(v) = kv.strip_prefix("path=") {
                        pax_path = Some(v.to_string());
                    } else if let Some(v) = kv.strip_prefix("size=") {
                        pax_size = v.parse().ok();
                    }
                }
            }
        } else {
            let name = match pax_path.take() {
                Some(p) => p,
                None => {
                    let n = &h[..100];
                    let n = &n[..n.iter().position(|&b| b == 0).unwrap_or(100)];
                    String::from_utf8_lossy(n).to_string()
                }
            };
            if typeflag == b'0' || typeflag == 0 {
                out.push(Entry {
                    name,
                    data_offset: data,
                    size,
                });
            }
        }
        pos = end + padding(size);
    }
    Err("missing end-of-archive marker".into())
}

fn parse_octal(f: &[u8]) -> Option<u64> {
    let s: String = f
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| b as char)
        .collect();
    let s = s.trim();
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_use_pax_and_parse_back() {
        let long = format!("{}.data.npy", "k".repeat(150));
        let mut tar = header(&long, 3);
        tar.extend_from_slice(b"abc");
        tar.resize(tar.len() + padding(3) as usize, 0);
        tar.extend_from_slice(&END);
        let e = entries(&tar).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].name, long);
        assert_eq!(e[0].size, 3);
    }

    #[test]
    fn pax_record_length_counts_itself() {
        let r = pax_record("path", "x");
        let s = String::from_utf8(r.clone()).unwrap();
        let n: usize = s.split(' ').next().unwrap().parse().unwrap();
        assert_eq!(n, r.len());
    }
}
