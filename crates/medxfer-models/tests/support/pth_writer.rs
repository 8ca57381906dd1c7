//! A tiny writer of PyTorch's zip checkpoint format (what `torch.save(state_dict, path)` writes
//! since 1.6), so tests can produce `.pth` files without torch.
//!
//! Layout: `archive/data.pkl` (pickle protocol 2 of an `OrderedDict` name -> tensor, each
//! tensor `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`
//! with the storage as a persistent id `('storage', torch.FloatStorage, key, 'cpu', numel)`),
//! `archive/data/<key>` (raw little-endian storage bytes), `archive/version`, `archive/byteorder`.

use std::io::Write;
use std::path::Path;

/// One entry of the state dict; `stride` lets a test store a non-contiguous view.
pub struct PthTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub stride: Vec<usize>,
    pub storage: PthStorage,
}

pub enum PthStorage {
    Float(Vec<f32>),
    Long(Vec<i64>),
}

impl PthTensor {
    /// A contiguous float tensor.
    pub fn float(name: &str, shape: &[usize], data: Vec<f32>) -> Self {
        Self {
            name: name.to_string(),
            shape: shape.to_vec(),
            stride: contiguous_strides(shape),
            storage: PthStorage::Float(data),
        }
    }
}

pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1];
    }
    strides
}

struct Pickle(Vec<u8>);

impl Pickle {
    fn op(&mut self, code: u8) {
        self.0.push(code);
    }
    fn global(&mut self, module: &str, name: &str) {
        self.0.push(b'c');
        self.0
            .extend_from_slice(format!("{module}\n{name}\n").as_bytes());
    }
    fn string(&mut self, s: &str) {
        self.0.push(b'X');
        self.0.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.0.extend_from_slice(s.as_bytes());
    }
    fn int(&mut self, value: usize) {
        self.0.push(b'J');
        self.0.extend_from_slice(&(value as i32).to_le_bytes());
    }
    fn int_tuple(&mut self, values: &[usize]) {
        self.op(b'(');
        for &v in values {
            self.int(v);
        }
        self.op(b't');
    }
    fn empty_ordered_dict(&mut self) {
        self.global("collections", "OrderedDict");
        self.op(b')');
        self.op(b'R');
    }
}

pub fn write_pth(path: &Path, tensors: &[PthTensor]) {
    let mut pickle = Pickle(vec![0x80, 2]);
    pickle.empty_ordered_dict();
    pickle.op(b'(');
    for (index, tensor) in tensors.iter().enumerate() {
        let (storage_type, numel) = match &tensor.storage {
            PthStorage::Float(data) => ("FloatStorage", data.len()),
            PthStorage::Long(data) => ("LongStorage", data.len()),
        };
        pickle.string(&tensor.name);
        pickle.global("torch._utils", "_rebuild_tensor_v2");
        pickle.op(b'(');
        // Persistent id of the storage.
        pickle.op(b'(');
        pickle.string("storage");
        pickle.global("torch", storage_type);
        pickle.string(&index.to_string());
        pickle.string("cpu");
        pickle.int(numel);
        pickle.op(b't');
        pickle.op(b'Q');
        pickle.int(0);
        pickle.int_tuple(&tensor.shape);
        pickle.int_tuple(&tensor.stride);
        pickle.op(0x89); // NEWFALSE: requires_grad
        pickle.empty_ordered_dict();
        pickle.op(b't');
        pickle.op(b'R');
    }
    pickle.op(b'u');
    pickle.op(b'.');

    let file = std::fs::File::create(path).expect("create .pth");
    let mut zip = zip::ZipWriter::new(file);
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("archive/data.pkl", options).unwrap();
    zip.write_all(&pickle.0).unwrap();
    for (index, tensor) in tensors.iter().enumerate() {
        zip.start_file(format!("archive/data/{index}"), options)
            .unwrap();
        let bytes: Vec<u8> = match &tensor.storage {
            PthStorage::Float(data) => data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            PthStorage::Long(data) => data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        };
        zip.write_all(&bytes).unwrap();
    }
    zip.start_file("archive/version", options).unwrap();
    zip.write_all(b"3\n").unwrap();
    zip.start_file("archive/byteorder", options).unwrap();
    zip.write_all(b"little").unwrap();
    zip.finish().unwrap();
}
