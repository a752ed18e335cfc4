//! Reading Avro's binary encoding: zig-zag varints, length-prefixed bytes, little-endian floats,
//! and skipping values of any type. Every read is bounds-checked; nothing here panics.

/// What went wrong, and at which byte of the datum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BinaryError {
    #[error("datum truncated at byte {at}: {needed} more bytes needed")]
    Truncated { at: usize, needed: usize },
    #[error("varint at byte {at} is longer than 10 bytes")]
    VarintTooLong { at: usize },
    #[error("int at byte {at} out of range: {value}")]
    IntOutOfRange { at: usize, value: i64 },
    #[error("negative length {length} at byte {at}")]
    NegativeLength { at: usize, length: i64 },
    #[error("invalid UTF-8 in string at byte {at}")]
    InvalidUtf8 { at: usize },
    #[error("invalid boolean byte 0x{value:02x} at byte {at}")]
    InvalidBoolean { at: usize, value: u8 },
}

/// A position in one Avro datum.
pub struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, position: 0 }
    }

    pub fn position(&self) -> usize {
        self.position
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.position
    }

    #[inline]
    fn take(&mut self, count: usize) -> Result<&'a [u8], BinaryError> {
        let end = self
            .position
            .checked_add(count)
            .filter(|end| *end <= self.bytes.len())
            .ok_or(BinaryError::Truncated { at: self.position, needed: count.saturating_sub(self.remaining()) })?;
        let slice = &self.bytes[self.position..end];
        self.position = end;
        Ok(slice)
    }

    #[inline]
    pub fn read_long(&mut self) -> Result<i64, BinaryError> {
        let start = self.position;
        let mut value: u64 = 0;
        for shift in (0..70).step_by(7) {
            let Some(&byte) = self.bytes.get(self.position) else {
                return Err(BinaryError::Truncated { at: self.position, needed: 1 });
            };
            self.position += 1;
            value |= u64::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                return Ok(((value >> 1) as i64) ^ -((value & 1) as i64));
            }
        }
        Err(BinaryError::VarintTooLong { at: start })
    }

    #[inline]
    pub fn read_int(&mut self) -> Result<i32, BinaryError> {
        let at = self.position;
        let value = self.read_long()?;
        i32::try_from(value).map_err(|_| BinaryError::IntOutOfRange { at, value })
    }

    #[inline]
    pub fn read_boolean(&mut self) -> Result<bool, BinaryError> {
        let at = self.position;
        match self.take(1)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(BinaryError::InvalidBoolean { at, value }),
        }
    }

    #[inline]
    pub fn read_float(&mut self) -> Result<f32, BinaryError> {
        let bytes = self.take(4)?;
        Ok(f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    #[inline]
    pub fn read_double(&mut self) -> Result<f64, BinaryError> {
        let mut array = [0u8; 8];
        array.copy_from_slice(self.take(8)?);
        Ok(f64::from_le_bytes(array))
    }

    #[inline]
    fn read_length(&mut self) -> Result<usize, BinaryError> {
        let at = self.position;
        let length = self.read_long()?;
        usize::try_from(length).map_err(|_| BinaryError::NegativeLength { at, length })
    }

    /// `bytes` and `string`: a length, then that many bytes.
    #[inline]
    pub fn read_bytes(&mut self) -> Result<&'a [u8], BinaryError> {
        let length = self.read_length()?;
        self.take(length)
    }

    /// `string`: its bytes, checked to be UTF-8. ASCII (nearly every string) is recognised a
    /// word at a time; only other text gets std's full validation, which costs ~100
    /// instructions even for a short ASCII string (run on every string, it was 5% of bronze's).
    /// The bytes stay bytes: a string column keeps them as binary until its chunk is finished
    /// (see `columns.rs`).
    #[inline]
    pub fn read_utf8(&mut self) -> Result<&'a [u8], BinaryError> {
        let at = self.position;
        let bytes = self.read_bytes()?;
        if bytes.is_ascii() || std::str::from_utf8(bytes).is_ok() { Ok(bytes) } else { Err(BinaryError::InvalidUtf8 { at }) }
    }

    #[inline]
    pub fn read_fixed(&mut self, size: usize) -> Result<&'a [u8], BinaryError> {
        self.take(size)
    }

    /// Skips array or map blocks, calling `skip_item` once per item (twice per map entry is the
    /// caller's business). Negative block counts carry a byte size, which is used to jump.
    pub fn skip_blocks(&mut self, mut skip_item: impl FnMut(&mut Self) -> Result<(), BinaryError>) -> Result<(), BinaryError> {
        loop {
            let count = self.read_long()?;
            if count == 0 {
                return Ok(());
            }
            if count < 0 {
                let size = self.read_length()?;
                self.take(size)?;
            } else {
                for _ in 0..count {
                    skip_item(self)?;
                }
            }
        }
    }
}

/// Big-endian two's complement bytes (Avro `decimal`) as an i128; `None` when wider than 16 bytes.
pub fn decimal_from_bytes(bytes: &[u8]) -> Option<i128> {
    if bytes.len() > 16 {
        return None;
    }
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let mut value: i128 = if negative { -1 } else { 0 };
    for &byte in bytes {
        value = (value << 8) | i128::from(byte);
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_varints() {
        for (bytes, value) in [(&[0x00][..], 0), (&[0x01], -1), (&[0x02], 1), (&[0x7F], -64), (&[0x80, 0x01], 64)] {
            assert_eq!(Cursor::new(bytes).read_long(), Ok(value));
        }
        assert_eq!(Cursor::new(&[0xFF; 11]).read_long(), Err(BinaryError::VarintTooLong { at: 0 }));
        assert_eq!(Cursor::new(&[0x80]).read_long(), Err(BinaryError::Truncated { at: 1, needed: 1 }));
    }

    #[test]
    fn lengths_are_checked() {
        assert_eq!(Cursor::new(&[0x06, b'a', b'b', b'c']).read_utf8(), Ok(&b"abc"[..]));
        assert_eq!(Cursor::new(&[0x04, 0xC3, 0xA9]).read_utf8(), Ok(&[0xC3, 0xA9][..]), "é, not ASCII, still UTF-8");
        assert_eq!(Cursor::new(&[0x06, b'a']).read_bytes(), Err(BinaryError::Truncated { at: 1, needed: 2 }));
        assert_eq!(Cursor::new(&[0x01]).read_bytes(), Err(BinaryError::NegativeLength { at: 0, length: -1 }));
        assert_eq!(Cursor::new(&[0x02, 0xFF]).read_utf8(), Err(BinaryError::InvalidUtf8 { at: 0 }));
    }

    #[test]
    fn decimals_are_sign_extended() {
        assert_eq!(decimal_from_bytes(&[0xFF, 0x7F]), Some(-129));
        assert_eq!(decimal_from_bytes(&[0x00, 0x00, 0x12, 0xD6, 0x87]), Some(1_234_567));
        assert_eq!(decimal_from_bytes(&[]), Some(0));
        assert_eq!(decimal_from_bytes(&[0; 17]), None);
    }
}
