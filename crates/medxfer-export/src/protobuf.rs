//! A minimal protocol-buffers writer: just the wire types ONNX's messages use (varints,
//! length-delimited bytes / strings / nested messages). Fields are written in the order the
//! caller adds them; repeated scalars are written unpacked, as proto2 (onnx.proto) declares them.

/// Wire type of varint-encoded integers (int32, int64, enums).
const WIRE_VARINT: u64 = 0;
/// Wire type of strings, bytes and nested messages.
const WIRE_LENGTH_DELIMITED: u64 = 2;

/// The bytes of one message under construction.
#[derive(Debug, Default, Clone)]
pub struct MessageWriter {
    bytes: Vec<u8>,
}

impl MessageWriter {
    pub fn new() -> Self {
        Self::default()
    }

    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.bytes.push((value as u8 & 0x7f) | 0x80);
            value >>= 7;
        }
        self.bytes.push(value as u8);
    }

    fn tag(&mut self, field: u32, wire_type: u64) {
        self.varint((u64::from(field) << 3) | wire_type);
    }

    /// An int64 / int32 / enum field (negative values as ten-byte two's complement, as
    /// protobuf encodes non-zigzag signed integers).
    pub fn int(&mut self, field: u32, value: i64) -> &mut Self {
        self.tag(field, WIRE_VARINT);
        self.varint(value as u64);
        self
    }

    pub fn bytes(&mut self, field: u32, value: &[u8]) -> &mut Self {
        self.tag(field, WIRE_LENGTH_DELIMITED);
        self.varint(value.len() as u64);
        self.bytes.extend_from_slice(value);
        self
    }

    pub fn string(&mut self, field: u32, value: &str) -> &mut Self {
        self.bytes(field, value.as_bytes())
    }

    pub fn message(&mut self, field: u32, value: &MessageWriter) -> &mut Self {
        self.bytes(field, &value.bytes)
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The protobuf documentation's examples: field 1 = 150 is `08 96 01`, field 2 = "testing"
    /// is `12 07 74 65 73 74 69 6e 67`, and that message nested as field 3 is `1a 03 08 96 01`.
    #[test]
    fn encodes_the_protobuf_documentation_examples() {
        let mut inner = MessageWriter::new();
        inner.int(1, 150);
        assert_eq!(inner.clone().into_bytes(), [0x08, 0x96, 0x01]);

        let mut text = MessageWriter::new();
        text.string(2, "testing");
        assert_eq!(
            text.into_bytes(),
            [0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6e, 0x67]
        );

        let mut outer = MessageWriter::new();
        outer.message(3, &inner);
        assert_eq!(outer.into_bytes(), [0x1a, 0x03, 0x08, 0x96, 0x01]);
    }

    /// -1 as an int64 is the ten-byte varint `ff ff ff ff ff ff ff ff ff 01`; field numbers
    /// above 15 take a two-byte tag (field 20, varint: `a0 01`).
    #[test]
    fn encodes_negative_integers_and_large_field_numbers() {
        let mut message = MessageWriter::new();
        message.int(1, -1).int(20, 2);
        let mut expected = vec![0x08];
        expected.extend([0xff; 9]);
        expected.extend([0x01, 0xa0, 0x01, 0x02]);
        assert_eq!(message.into_bytes(), expected);
    }
}
