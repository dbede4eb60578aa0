//! One record per line: `{"crc":<crc32 of P>,"rec":P}` where `P` is the
//! record's JSON exactly as written. The line stays JSON (jq reads it) and the
//! CRC is checked on the bytes of `P`, not on a re-serialisation.

const PREFIX: &[u8] = b"{\"crc\":";
const MIDDLE: &[u8] = b",\"rec\":";

/// The line for `payload` (compact JSON without a newline), newline included.
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let crc = crc32fast::hash(payload).to_string();
    let mut line = Vec::with_capacity(payload.len() + 32);
    line.extend_from_slice(PREFIX);
    line.extend_from_slice(crc.as_bytes());
    line.extend_from_slice(MIDDLE);
    line.extend_from_slice(payload);
    line.extend_from_slice(b"}\n");
    line
}

/// The payload of a line (without its newline) whose CRC matches, or `None`
/// for a torn, corrupted or foreign line.
pub fn decode(line: &[u8]) -> Option<&[u8]> {
    let rest = line.strip_prefix(PREFIX)?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let crc: u32 = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
    let payload = rest[digits..].strip_prefix(MIDDLE)?.strip_suffix(b"}")?;
    (crc32fast::hash(payload) == crc).then_some(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_valid_json() {
        let line = encode(br#"{"a":1}"#);
        assert!(line.ends_with(b"\n"));
        let body = &line[..line.len() - 1];
        assert_eq!(decode(body), Some(&br#"{"a":1}"#[..]));
        let v: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(v["rec"]["a"], 1);
    }

    #[test]
    fn any_damage_is_detected() {
        let line = encode(br#"{"time_unix_ms":5,"type":"stop"}"#);
        let body = &line[..line.len() - 1];
        for cut in 0..body.len() {
            assert_eq!(decode(&body[..cut]), None, "cut at {cut}");
        }
        let mut flipped = body.to_vec();
        flipped[30] ^= 0x04;
        assert_eq!(decode(&flipped), None);
        assert_eq!(decode(b"garbage"), None);
    }
}
