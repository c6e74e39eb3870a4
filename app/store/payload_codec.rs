//! Payloads are stored LZ4-compressed: webhook JSON shrinks about fourfold, and SQLite's write
//! path (WAL frames, checksums, checkpoints) is most of what storing a delivery costs.

use super::StoreError;

pub(super) fn encode(payload: &[u8]) -> Vec<u8> {
    lz4_flex::compress_prepend_size(payload)
}

pub(super) fn decode(stored: &[u8]) -> Result<Vec<u8>, StoreError> {
    lz4_flex::decompress_size_prepended(stored)
        .map_err(|err| StoreError::CorruptPayload(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_comes_back_byte_for_byte() {
        let payload =
            br#"{"ref":"refs/heads/main","commits":[{"message":"caf\u00e9 \u2014 fix"}]}"#
                .repeat(50);
        let stored = encode(&payload);
        assert!(stored.len() < payload.len() / 4);
        assert_eq!(decode(&stored).unwrap(), payload);
    }

    #[test]
    fn a_damaged_payload_is_an_error_not_a_panic() {
        assert!(decode(&[0xff, 0xff, 0xff, 0x7f, 1, 2, 3]).is_err());
    }
}
