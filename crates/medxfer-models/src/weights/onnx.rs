//! The float initializers of an ONNX model (`ModelProto.graph.initializer`), read straight from
//! its protobuf encoding: only the few fields that hold a tensor's name, shape and values are
//! decoded, every other field is skipped by its wire type.
//!
//! Field numbers (onnx.proto3): ModelProto.graph = 7; GraphProto.initializer = 5;
//! TensorProto.dims = 1, data_type = 2, float_data = 4, name = 8, raw_data = 9,
//! data_location = 14 (1 = external, not supported: the weights must be inside the file).

use std::collections::BTreeMap;
use std::path::Path;

use super::state_dict::{Array, StateDict};
use crate::ModelError;

const MODEL_GRAPH: u64 = 7;
const GRAPH_INITIALIZER: u64 = 5;
const TENSOR_DIMS: u64 = 1;
const TENSOR_DATA_TYPE: u64 = 2;
const TENSOR_FLOAT_DATA: u64 = 4;
const TENSOR_NAME: u64 = 8;
const TENSOR_RAW_DATA: u64 = 9;
const TENSOR_DATA_LOCATION: u64 = 14;
/// `TensorProto.DataType.FLOAT`.
const DATA_TYPE_FLOAT: u64 = 1;
const DATA_LOCATION_EXTERNAL: u64 = 1;

/// Every float32 initializer of the ONNX model at `path`, by initializer name, in the layout
/// ONNX stores it (row-major over `dims`). Initializers of other types (shape constants) are
/// left out.
pub fn read_onnx_initializers(path: &Path) -> Result<StateDict, ModelError> {
    let bytes = std::fs::read(path).map_err(|e| ModelError::io(path, e))?;
    let bad = |message: String| ModelError::format(path, format!("not an ONNX model: {message}"));
    let mut tensors = BTreeMap::new();
    let mut found_graph = false;
    for field in Fields::new(&bytes) {
        let field = field.map_err(bad)?;
        if field.number != MODEL_GRAPH {
            continue;
        }
        found_graph = true;
        for graph_field in Fields::new(field.bytes().map_err(bad)?) {
            let graph_field = graph_field.map_err(bad)?;
            if graph_field.number != GRAPH_INITIALIZER {
                continue;
            }
            let tensor = read_tensor(graph_field.bytes().map_err(bad)?).map_err(bad)?;
            if let Some((name, array)) = tensor {
                tensors.insert(name, array);
            }
        }
    }
    if !found_graph {
        return Err(bad("no graph".to_string()));
    }
    Ok(StateDict {
        path: path.to_path_buf(),
        tensors,
    })
}

/// One `TensorProto`: its name and values when it is a float tensor stored in the file.
fn read_tensor(bytes: &[u8]) -> Result<Option<(String, Array)>, String> {
    let mut name = String::new();
    let mut dims = Vec::new();
    let mut data_type = 0;
    let mut values = Vec::new();
    for field in Fields::new(bytes) {
        let field = field?;
        match (field.number, field.value) {
            (TENSOR_DIMS, Value::Varint(dim)) => dims.push(dim as usize),
            (TENSOR_DIMS, Value::Bytes(packed)) => {
                let mut reader = Reader { bytes: packed };
                while !reader.bytes.is_empty() {
                    dims.push(reader.varint()? as usize);
                }
            }
            (TENSOR_DATA_TYPE, Value::Varint(kind)) => data_type = kind,
            (TENSOR_FLOAT_DATA, Value::Fixed32(bits)) => values.push(f32::from_bits(bits)),
            (TENSOR_FLOAT_DATA | TENSOR_RAW_DATA, Value::Bytes(data)) => {
                if data.len() % 4 != 0 {
                    return Err(format!("float data of {} bytes", data.len()));
                }
                values.extend(
                    data.chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                );
            }
            (TENSOR_NAME, Value::Bytes(text)) => {
                name = String::from_utf8(text.to_vec()).map_err(|e| e.to_string())?;
            }
            (TENSOR_DATA_LOCATION, Value::Varint(DATA_LOCATION_EXTERNAL)) => {
                return Err(format!(
                    "initializer `{name}` is stored in an external file"
                ));
            }
            _ => {}
        }
    }
    if data_type != DATA_TYPE_FLOAT {
        return Ok(None);
    }
    let expected: usize = dims.iter().product();
    if values.len() != expected {
        return Err(format!(
            "initializer `{name}` has {} values for shape {dims:?}",
            values.len()
        ));
    }
    Ok(Some((
        name,
        Array {
            shape: dims,
            data: values,
        },
    )))
}

/// A protobuf field's value by wire type.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value<'a> {
    Varint(u64),
    /// Skipped: no field read here has this type.
    Fixed64,
    Bytes(&'a [u8]),
    Fixed32(u32),
}

struct Field<'a> {
    number: u64,
    value: Value<'a>,
}

impl<'a> Field<'a> {
    fn bytes(&self) -> Result<&'a [u8], String> {
        match self.value {
            Value::Bytes(bytes) => Ok(bytes),
            other => Err(format!("field {} is {other:?}, not a message", self.number)),
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], String> {
        if count > self.bytes.len() {
            return Err(format!(
                "a field of {count} bytes runs past the end ({} left)",
                self.bytes.len()
            ));
        }
        let (taken, rest) = self.bytes.split_at(count);
        self.bytes = rest;
        Ok(taken)
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.take(1)?[0];
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a varint longer than 10 bytes".to_string())
    }

    fn field(&mut self) -> Result<Field<'a>, String> {
        let key = self.varint()?;
        let number = key >> 3;
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Value::Fixed64
            }
            2 => {
                let length = usize::try_from(self.varint()?).map_err(|e| e.to_string())?;
                Value::Bytes(self.take(length)?)
            }
            5 => Value::Fixed32(u32::from_le_bytes(
                self.take(4)?.try_into().unwrap_or([0; 4]),
            )),
            wire => return Err(format!("field {number} has wire type {wire}")),
        };
        Ok(Field { number, value })
    }
}

/// The fields of one message, in order; stops at the first malformed one.
struct Fields<'a> {
    reader: Reader<'a>,
    failed: bool,
}

impl<'a> Fields<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self {
            reader: Reader { bytes },
            failed: false,
        }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Field<'a>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.reader.bytes.is_empty() {
            return None;
        }
        let field = self.reader.field();
        self.failed = field.is_err();
        Some(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut value: u64, out: &mut Vec<u8>) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    fn bytes_field(number: u64, payload: &[u8], out: &mut Vec<u8>) {
        varint(number << 3 | 2, out);
        varint(payload.len() as u64, out);
        out.extend_from_slice(payload);
    }

    fn varint_field(number: u64, value: u64, out: &mut Vec<u8>) {
        varint(number << 3, out);
        varint(value, out);
    }

    /// A model whose graph holds a 2 x 3 float tensor in `raw_data`, a float tensor in packed
    /// `float_data` with packed dims, an int64 shape constant and an unrelated node field.
    fn model() -> Vec<u8> {
        let mut raw = Vec::new();
        varint_field(TENSOR_DIMS, 2, &mut raw);
        varint_field(TENSOR_DIMS, 3, &mut raw);
        varint_field(TENSOR_DATA_TYPE, DATA_TYPE_FLOAT, &mut raw);
        bytes_field(TENSOR_NAME, b"conv/w", &mut raw);
        let values: Vec<u8> = (0..6)
            .flat_map(|v| (v as f32 * 0.5).to_le_bytes())
            .collect();
        bytes_field(TENSOR_RAW_DATA, &values, &mut raw);

        let mut packed = Vec::new();
        bytes_field(TENSOR_DIMS, &[2], &mut packed);
        varint_field(TENSOR_DATA_TYPE, DATA_TYPE_FLOAT, &mut packed);
        let floats: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        bytes_field(TENSOR_FLOAT_DATA, &floats, &mut packed);
        bytes_field(TENSOR_NAME, b"bias", &mut packed);

        let mut shape = Vec::new();
        varint_field(TENSOR_DIMS, 1, &mut shape);
        varint_field(TENSOR_DATA_TYPE, 7, &mut shape);
        bytes_field(TENSOR_NAME, b"shape", &mut shape);
        bytes_field(TENSOR_RAW_DATA, &3i64.to_le_bytes(), &mut shape);

        let mut graph = Vec::new();
        bytes_field(1, b"a node, skipped", &mut graph);
        for tensor in [raw, packed, shape] {
            bytes_field(GRAPH_INITIALIZER, &tensor, &mut graph);
        }
        let mut model = Vec::new();
        varint_field(1, 8, &mut model); // ir_version
        bytes_field(MODEL_GRAPH, &graph, &mut model);
        model
    }

    #[test]
    fn float_initializers_are_read_with_their_shapes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.onnx");
        std::fs::write(&path, model()).unwrap();
        let state = read_onnx_initializers(&path).unwrap();
        assert_eq!(state.tensors.len(), 2, "{:?}", state.tensors.keys());
        assert_eq!(state.tensors["conv/w"].shape, [2, 3]);
        assert_eq!(state.tensors["conv/w"].data, [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]);
        assert_eq!(state.tensors["bias"].shape, [2]);
        assert_eq!(state.tensors["bias"].data, [1.5, -2.0]);
    }

    #[test]
    fn a_truncated_model_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.onnx");
        let bytes = model();
        std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
        let err = read_onnx_initializers(&path).unwrap_err().to_string();
        assert!(
            err.contains("cut.onnx") && err.contains("past the end"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1);
    }
}
