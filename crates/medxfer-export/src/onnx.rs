//! The parts of ONNX's `onnx.proto` an inference graph of float tensors needs, written with
//! the field numbers of the specification (ModelProto, GraphProto, NodeProto, AttributeProto,
//! TensorProto, ValueInfoProto and the type / shape messages).

use crate::protobuf::MessageWriter;

/// ONNX IR version 7 is the one that introduced opset 13 (ONNX 1.8).
pub const IR_VERSION: i64 = 7;
/// The default-domain operator set the graphs use.
pub const OPSET_VERSION: i64 = 13;

/// `TensorProto.DataType.FLOAT`.
const DATA_TYPE_FLOAT: i64 = 1;

/// `AttributeProto.AttributeType` values used here.
const ATTRIBUTE_INT: i64 = 2;
const ATTRIBUTE_STRING: i64 = 3;
const ATTRIBUTE_INTS: i64 = 7;

/// One node attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    Int(i64),
    Ints(Vec<i64>),
    Text(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub name: &'static str,
    pub value: AttributeValue,
}

impl Attribute {
    pub fn int(name: &'static str, value: i64) -> Self {
        Self {
            name,
            value: AttributeValue::Int(value),
        }
    }

    pub fn ints(name: &'static str, values: &[usize]) -> Self {
        Self {
            name,
            value: AttributeValue::Ints(values.iter().map(|&v| v as i64).collect()),
        }
    }

    pub fn text(name: &'static str, value: &str) -> Self {
        Self {
            name,
            value: AttributeValue::Text(value.to_string()),
        }
    }

    fn encode(&self) -> MessageWriter {
        let mut message = MessageWriter::new();
        message.string(1, self.name);
        match &self.value {
            AttributeValue::Int(value) => {
                message.int(3, *value).int(20, ATTRIBUTE_INT);
            }
            AttributeValue::Ints(values) => {
                for value in values {
                    message.int(8, *value);
                }
                message.int(20, ATTRIBUTE_INTS);
            }
            AttributeValue::Text(value) => {
                message.string(4, value).int(20, ATTRIBUTE_STRING);
            }
        }
        message
    }
}

/// One operator application.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub op_type: &'static str,
    pub name: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attributes: Vec<Attribute>,
}

impl Node {
    fn encode(&self) -> MessageWriter {
        let mut message = MessageWriter::new();
        for input in &self.inputs {
            message.string(1, input);
        }
        for output in &self.outputs {
            message.string(2, output);
        }
        message.string(3, &self.name).string(4, self.op_type);
        for attribute in &self.attributes {
            message.message(5, &attribute.encode());
        }
        message
    }
}

/// A constant float tensor (a weight), stored as little-endian `raw_data`.
#[derive(Debug, Clone, PartialEq)]
pub struct FloatTensor {
    pub name: String,
    pub dims: Vec<usize>,
    pub values: Vec<f32>,
}

impl FloatTensor {
    fn encode(&self) -> MessageWriter {
        let mut message = MessageWriter::new();
        for &dim in &self.dims {
            message.int(1, dim as i64);
        }
        message.int(2, DATA_TYPE_FLOAT).string(8, &self.name);
        let raw: Vec<u8> = self.values.iter().flat_map(|v| v.to_le_bytes()).collect();
        message.bytes(9, &raw);
        message
    }
}

/// A dimension of a graph input or output: fixed, or named (the batch).
#[derive(Debug, Clone, PartialEq)]
pub enum Dim {
    Fixed(usize),
    Named(&'static str),
}

/// A graph input or output: a float tensor of the given shape.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueInfo {
    pub name: String,
    pub shape: Vec<Dim>,
}

impl ValueInfo {
    fn encode(&self) -> MessageWriter {
        let mut shape = MessageWriter::new();
        for dim in &self.shape {
            let mut dimension = MessageWriter::new();
            match dim {
                Dim::Fixed(value) => dimension.int(1, *value as i64),
                Dim::Named(name) => dimension.string(2, name),
            };
            shape.message(1, &dimension);
        }
        let mut tensor_type = MessageWriter::new();
        tensor_type.int(1, DATA_TYPE_FLOAT).message(2, &shape);
        let mut type_proto = MessageWriter::new();
        type_proto.message(1, &tensor_type);
        let mut message = MessageWriter::new();
        message.string(1, &self.name).message(2, &type_proto);
        message
    }
}

/// A whole inference graph.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Graph {
    pub name: String,
    pub nodes: Vec<Node>,
    pub initializers: Vec<FloatTensor>,
    pub inputs: Vec<ValueInfo>,
    pub outputs: Vec<ValueInfo>,
}

impl Graph {
    fn encode(&self) -> MessageWriter {
        let mut message = MessageWriter::new();
        for node in &self.nodes {
            message.message(1, &node.encode());
        }
        message.string(2, &self.name);
        for tensor in &self.initializers {
            message.message(5, &tensor.encode());
        }
        for input in &self.inputs {
            message.message(11, &input.encode());
        }
        for output in &self.outputs {
            message.message(12, &output.encode());
        }
        message
    }

    /// The serialised `ModelProto` holding this graph, for the default domain at
    /// `OPSET_VERSION`.
    pub fn to_model_bytes(&self, producer_version: &str, doc: &str) -> Vec<u8> {
        let mut opset = MessageWriter::new();
        opset.string(1, "").int(2, OPSET_VERSION);
        let mut model = MessageWriter::new();
        model
            .int(1, IR_VERSION)
            .string(2, "medxfer")
            .string(3, producer_version)
            .string(6, doc)
            .message(7, &self.encode())
            .message(8, &opset);
        model.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Relu node with one attribute, byte for byte: input "x" (0a 01 78), output "y"
    /// (12 01 79), name "r" (1a 01 72), op_type "Relu" (22 04 52 65 6c 75), attribute
    /// {name "a", i 3, type INT} (2a 08 | 0a 01 61 | 18 03 | a0 01 02).
    #[test]
    fn a_node_encodes_to_the_bytes_of_onnx_field_numbers() {
        let node = Node {
            op_type: "Relu",
            name: "r".into(),
            inputs: vec!["x".into()],
            outputs: vec!["y".into()],
            attributes: vec![Attribute::int("a", 3)],
        };
        let expected = [
            0x0a, 0x01, 0x78, 0x12, 0x01, 0x79, 0x1a, 0x01, 0x72, 0x22, 0x04, 0x52, 0x65, 0x6c,
            0x75, 0x2a, 0x08, 0x0a, 0x01, 0x61, 0x18, 0x03, 0xa0, 0x01, 0x02,
        ];
        assert_eq!(node.encode().into_bytes(), expected);
    }

    /// A 1-element tensor: dims [1] (08 01), FLOAT (10 01), name "w" (42 01 77), raw_data of
    /// 1.0f32 little-endian (4a 04 00 00 80 3f).
    #[test]
    fn a_tensor_stores_its_floats_as_little_endian_raw_data() {
        let tensor = FloatTensor {
            name: "w".into(),
            dims: vec![1],
            values: vec![1.0],
        };
        let expected = [
            0x08, 0x01, 0x10, 0x01, 0x42, 0x01, 0x77, 0x4a, 0x04, 0x00, 0x00, 0x80, 0x3f,
        ];
        assert_eq!(tensor.encode().into_bytes(), expected);
    }
}
