//! The part of [crc-fast](https://crates.io/crates/crc-fast)'s API that `aws-smithy-checksums`
//! calls (`Digest::new`, `update`, `finalize`, and `checksum`), for the three CRCs S3 checksums
//! use: CRC-32 (`Crc32IsoHdlc`), CRC-32C (`Crc32Iscsi`) and CRC-64/NVME (`Crc64Nvme`).
//!
//! The sums come from the `crc` crate's table-driven code (slice-by-16), with one table per
//! algorithm made at compile time. The request bodies Warden sends to S3 (bucket policies,
//! evidence records) are kilobytes, so a SIMD implementation would gain nothing measurable.
//! The crate's other CRC variants are left out, so a new caller of them fails to compile rather
//! than computing something else.

use crc::{Crc, Table};
use std::fmt;

static CRC32: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&crc::CRC_32_ISO_HDLC);
static CRC32C: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&crc::CRC_32_ISCSI);
static CRC64_NVME: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&crc::CRC_64_NVME);

/// The CRC variants this stand-in computes (the names are crc-fast's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrcAlgorithm {
    /// CRC-32/ISO-HDLC, S3's `CRC32`.
    Crc32IsoHdlc,
    /// CRC-32/ISCSI, S3's `CRC32C`.
    Crc32Iscsi,
    /// CRC-64/NVME, S3's `CRC64NVME`.
    Crc64Nvme,
}

#[derive(Clone)]
enum State {
    Crc32(crc::Digest<'static, u32, Table<16>>),
    Crc32c(crc::Digest<'static, u32, Table<16>>),
    Crc64Nvme(crc::Digest<'static, u64, Table<16>>),
}

/// A running CRC over the bytes given to [`Digest::update`].
#[derive(Clone)]
pub struct Digest {
    state: State,
}

impl Digest {
    /// A digest of no bytes yet, for `algorithm`.
    pub fn new(algorithm: CrcAlgorithm) -> Self {
        let state = match algorithm {
            CrcAlgorithm::Crc32IsoHdlc => State::Crc32(CRC32.digest()),
            CrcAlgorithm::Crc32Iscsi => State::Crc32c(CRC32C.digest()),
            CrcAlgorithm::Crc64Nvme => State::Crc64Nvme(CRC64_NVME.digest()),
        };
        Self { state }
    }

    /// Adds `data` to the sum.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Crc32(d) | State::Crc32c(d) => d.update(data),
            State::Crc64Nvme(d) => d.update(data),
        }
    }

    /// The sum of the bytes so far (a 32-bit CRC in the low half); the digest can go on.
    pub fn finalize(&self) -> u64 {
        match &self.state {
            State::Crc32(d) | State::Crc32c(d) => u64::from(d.clone().finalize()),
            State::Crc64Nvme(d) => d.clone().finalize(),
        }
    }

    /// The algorithm this digest computes.
    pub fn algorithm(&self) -> CrcAlgorithm {
        match self.state {
            State::Crc32(_) => CrcAlgorithm::Crc32IsoHdlc,
            State::Crc32c(_) => CrcAlgorithm::Crc32Iscsi,
            State::Crc64Nvme(_) => CrcAlgorithm::Crc64Nvme,
        }
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Digest")
            .field("algorithm", &self.algorithm())
            .field("sum", &self.finalize())
            .finish()
    }
}

/// The CRC of `buf` in one call.
pub fn checksum(algorithm: CrcAlgorithm, buf: &[u8]) -> u64 {
    let mut digest = Digest::new(algorithm);
    digest.update(buf);
    digest.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The catalogue's check values (the CRC of "123456789",
    // https://reveng.sourceforge.io/crc-catalogue/all.htm), the ones crc-fast tests against too.
    #[test]
    fn each_algorithm_gives_the_catalogue_check_value() {
        assert_eq!(
            checksum(CrcAlgorithm::Crc32IsoHdlc, b"123456789"),
            0xcbf4_3926
        );
        assert_eq!(
            checksum(CrcAlgorithm::Crc32Iscsi, b"123456789"),
            0xe306_9283
        );
        assert_eq!(
            checksum(CrcAlgorithm::Crc64Nvme, b"123456789"),
            0xae8b_1486_0a79_9888
        );
    }

    // All three start from all ones and end XORed with all ones, so an empty body sums to 0 (its
    // x-amz-checksum-crc32 header is "AAAAAA==").
    #[test]
    fn the_empty_body_sums_to_zero_as_s3_expects() {
        for algorithm in [
            CrcAlgorithm::Crc32IsoHdlc,
            CrcAlgorithm::Crc32Iscsi,
            CrcAlgorithm::Crc64Nvme,
        ] {
            assert_eq!(checksum(algorithm, b""), 0, "{algorithm:?}");
        }
    }

    #[test]
    fn a_sum_in_pieces_equals_the_sum_in_one_call_and_finalize_does_not_end_it() {
        let data: Vec<u8> = (0u32..10_000)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for algorithm in [
            CrcAlgorithm::Crc32IsoHdlc,
            CrcAlgorithm::Crc32Iscsi,
            CrcAlgorithm::Crc64Nvme,
        ] {
            let whole = checksum(algorithm, &data);
            let mut digest = Digest::new(algorithm);
            for piece in data.chunks(777) {
                digest.update(piece);
            }
            assert_eq!(digest.finalize(), whole, "{algorithm:?}");
            assert_eq!(digest.finalize(), whole, "finalize twice, {algorithm:?}");
            digest.update(b"x");
            assert_ne!(digest.finalize(), whole, "{algorithm:?}");
            assert_eq!(digest.algorithm(), algorithm);
        }
    }
}
