//! Put a `StateDict` into a module: every parameter must be present with its exact shape, and
//! every tensor of the file must be used (except the ones the caller lists as ignorable).

use std::collections::{BTreeMap, BTreeSet};

use burn::module::{ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;

use super::state_dict::{Array, StateDict};
use crate::ModelError;

/// Module path as burn builds it, without enum variant names (`layer1.0.conv1.weight`).
#[derive(Default)]
struct PathStack {
    segments: Vec<String>,
}

impl PathStack {
    fn enter(&mut self, name: &str, container_type: &str) {
        if !container_type.starts_with("Enum:") {
            self.segments.push(name.to_string());
        }
    }

    fn exit(&mut self, container_type: &str) {
        if !container_type.starts_with("Enum:") {
            self.segments.pop();
        }
    }

    fn current(&self) -> String {
        self.segments.join(".")
    }
}

/// Path and shape of every float parameter and buffer (batch-norm running statistics).
struct ShapeCollector {
    path: PathStack,
    shapes: Vec<(String, Vec<usize>)>,
}

impl ModuleVisitor for ShapeCollector {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, container_type: &str) {
        self.path.exit(container_type);
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.shapes
            .push((self.path.current(), param.lazy_shape().as_slice().to_vec()));
    }
}

/// Values of every float parameter and buffer, by module path.
struct ValueCollector {
    path: PathStack,
    values: BTreeMap<String, Array>,
}

impl ModuleVisitor for ValueCollector {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, container_type: &str) {
        self.path.exit(container_type);
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let data = param.val().into_data();
        let shape = data.shape().as_slice().to_vec();
        let values = data
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap_or_default();
        self.values.insert(
            self.path.current(),
            Array {
                shape,
                data: values,
            },
        );
    }
}

/// Replaces parameters whose path has a value, keeping ids, devices and gradient settings.
struct Loader<'a> {
    path: PathStack,
    values: &'a BTreeMap<String, Array>,
}

impl ModuleMapper for Loader<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, container_type: &str) {
        self.path.exit(container_type);
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        match self.values.get(&self.path.current()) {
            Some(array) => {
                let device = param.lazy_device();
                let data = TensorData::new(array.data.clone(), array.shape.clone());
                let tensor = Tensor::<D>::from_data(data, &device);
                let id = param.id;
                param.transform_for_load(tensor, id)
            }
            None => param,
        }
    }
}

/// Module paths and shapes of `module`'s float tensors, in visiting order.
pub(crate) fn module_shapes<M: Module>(module: &M) -> Vec<(String, Vec<usize>)> {
    let mut collector = ShapeCollector {
        path: PathStack::default(),
        shapes: Vec::new(),
    };
    module.visit(&mut collector);
    collector.shapes
}

/// How many values `module` holds: (learnable parameters, batch-norm running statistics), the
/// two totals a reference implementation's parameter count is checked against.
#[cfg(test)]
pub(crate) fn value_counts<M: Module>(module: &M) -> (usize, usize) {
    module_shapes(module)
        .iter()
        .fold((0, 0), |(learnable, running), (path, shape)| {
            let size = shape.iter().product::<usize>();
            if path.ends_with("running_mean") || path.ends_with("running_var") {
                (learnable, running + size)
            } else {
                (learnable + size, running)
            }
        })
}

/// Current values of `module`'s float tensors, by module path (enum variants left out).
pub fn module_state<M: Module>(module: &M) -> BTreeMap<String, Array> {
    let mut collector = ValueCollector {
        path: PathStack::default(),
        values: BTreeMap::new(),
    };
    module.visit(&mut collector);
    collector.values
}

/// The tensors of `state` renamed to `module`'s paths, checked: every parameter present with its
/// exact shape and every key of the file used. `source_key` turns a module path into the key the
/// file uses; keys for which `ignorable` is true may stay unused (e.g. an ImageNet classifier).
pub(crate) fn match_state<M: Module>(
    module: &M,
    state: &StateDict,
    model_name: &str,
    source_key: impl Fn(&str) -> String,
    ignorable: impl Fn(&str) -> bool,
) -> Result<BTreeMap<String, Array>, ModelError> {
    let mut values = BTreeMap::new();
    let mut used = BTreeSet::new();
    for (path, expected) in module_shapes(module) {
        let key = source_key(&path);
        let Some(array) = state.tensors.get(&key) else {
            return Err(ModelError::MissingTensor {
                path: state.path.clone(),
                kind: model_name.to_string(),
                tensor: key,
            });
        };
        if array.shape != expected {
            return Err(ModelError::ShapeMismatch {
                path: state.path.clone(),
                kind: model_name.to_string(),
                tensor: key,
                expected,
                found: array.shape.clone(),
            });
        }
        values.insert(path, array.clone());
        used.insert(key);
    }
    if let Some(unused) = state
        .tensors
        .keys()
        .find(|key| !used.contains(*key) && !ignorable(key))
    {
        return Err(ModelError::UnexpectedTensor {
            path: state.path.clone(),
            kind: model_name.to_string(),
            tensor: unused.clone(),
        });
    }
    Ok(values)
}

/// Load `state` into `module` after the checks of `match_state`.
pub(crate) fn load_state<M: Module>(
    module: M,
    state: &StateDict,
    model_name: &str,
    source_key: impl Fn(&str) -> String,
    ignorable: impl Fn(&str) -> bool,
) -> Result<M, ModelError> {
    let values = match_state(&module, state, model_name, source_key, ignorable)?;
    Ok(set_values(module, &values))
}

/// Overwrite the parameters of `module` that `values` names (by module path).
pub fn set_values<M: Module>(module: M, values: &BTreeMap<String, Array>) -> M {
    let mut loader = Loader {
        path: PathStack::default(),
        values,
    };
    module.map(&mut loader)
}
