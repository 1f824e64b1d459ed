//! The model file: a plain safetensors file (any safetensors reader opens it) whose metadata says what it
//! holds. Metadata (strings): `format` = "ferronet.model", `format_version` = "1", `ferronet_version`,
//! `config` (the model config as JSON), `counters` (JSON) and, when the optimizer is stored, `optimizer` (JSON
//! `{"config": ..., "engine": ...}`); a writer may add entries of its own under other keys (the scikit-learn
//! estimators store their state there), which the reader hands back untouched. Tensors: see `state.rs`.
//!
//! Reading trusts nothing and allocates little before it has checked: the header must be a JSON object whose
//! first entry is the metadata (as safetensors writes it); the metadata fixes which tensors may follow, so any
//! other name, dtype, shape or offset is refused as soon as it is met, and at most `MAX_METADATA_ENTRIES`
//! metadata strings are read. Peak memory while refusing a hostile file stays within a small multiple of the
//! header, and a valid file is read straight into the model's buffers.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::buffer;
use crate::error::{Error, Result};
use crate::model::state::{CountersMeta, OptimizerMeta, TensorSource, TrainingMeta, expected_tensors};
use crate::model::{AnyModel, Dtype, Model, ModelConfig, OptimizerConfig};
use crate::scalar::Real;

pub const FORMAT: &str = "ferronet.model";
pub const FORMAT_VERSION: &str = "1";
/// A header larger than this is refused before it is read (a ferronet model's is a few kB).
pub const MAX_HEADER_BYTES: u64 = 100 << 20;
/// Metadata entries read before a file is refused (ferronet writes five, six with the optimizer).
pub const MAX_METADATA_ENTRIES: usize = 64;
/// The metadata keys the engine writes and reads; any other key is a caller's entry.
pub const ENGINE_KEYS: [&str; 6] = ["format", "format_version", "ferronet_version", "config", "counters", "optimizer"];

#[cfg(not(target_endian = "little"))]
compile_error!("model files are little-endian; this engine reinterprets float buffers as their bytes");

/// What a model file holds.
pub struct LoadedFile {
    pub config: ModelConfig,
    /// None for a model that was saved before it was built.
    pub model: Option<AnyModel>,
    /// The optimizer as configured, for the Python side's optimizer object.
    pub optimizer: Option<OptimizerConfig>,
    /// The metadata entries that are not the engine's (`ENGINE_KEYS`), as written.
    pub extra: BTreeMap<String, String>,
}

// ------------------------------------------------------------------------------------------------ writing

struct Tensor<'a> {
    dtype: safetensors::Dtype,
    shape: Vec<usize>,
    data: &'a [u8],
}

impl safetensors::View for Tensor<'_> {
    fn dtype(&self) -> safetensors::Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

fn json<V: Serialize>(value: &V) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::value("the model file", format!("metadata cannot be written: {e}")))
}

/// The metadata: the engine's entries and the caller's `extra` ones (which may not use an engine key).
fn metadata(config: &ModelConfig, meta: &TrainingMeta, extra: &BTreeMap<String, String>) -> Result<HashMap<String, String>> {
    if let Some(key) = extra.keys().find(|key| ENGINE_KEYS.contains(&key.as_str())) {
        return Err(Error::value("metadata", format!("may not use the key {key:?}: the engine writes it")));
    }
    if extra.len() + ENGINE_KEYS.len() > MAX_METADATA_ENTRIES {
        let most = MAX_METADATA_ENTRIES - ENGINE_KEYS.len();
        return Err(Error::value("metadata", format!("may hold at most {most} entries; got {}", extra.len())));
    }
    let mut entries = HashMap::from([
        ("format".to_string(), FORMAT.to_string()),
        ("format_version".to_string(), FORMAT_VERSION.to_string()),
        ("ferronet_version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
        ("config".to_string(), config.to_json()?),
        ("counters".to_string(), json(&meta.counters)?),
    ]);
    if let Some(optimizer) = &meta.optimizer {
        entries.insert("optimizer".to_string(), json(optimizer)?);
    }
    entries.extend(extra.iter().map(|(key, value)| (key.clone(), value.clone())));
    Ok(entries)
}

fn serialize(tensors: Vec<(String, Tensor<'_>)>, metadata: HashMap<String, String>) -> Result<Vec<u8>> {
    // safetensors builds the file in one Vec that cannot report failure: make sure that much memory can be had.
    let size = tensors.iter().map(|(name, t)| t.data.len() + name.len() + 64).sum::<usize>() + 4096;
    drop(buffer::zeros::<u8>(size, "the model file")?);
    safetensors::serialize(tensors, Some(metadata)).map_err(|e| Error::value("the model file", format!("cannot be written: {e}")))
}

impl<T: Real> Model<T> {
    /// The model as the bytes of a model file, with the caller's metadata entries `extra` besides the engine's.
    pub fn to_file_bytes(&self, include_optimizer: bool, extra: &BTreeMap<String, String>) -> Result<Vec<u8>> {
        let (tensors, meta) = self.export(include_optimizer);
        let dtype = if T::NAME == "float32" { safetensors::Dtype::F32 } else { safetensors::Dtype::F64 };
        let tensors =
            tensors.into_iter().map(|t| (t.name, Tensor { dtype, shape: t.shape, data: bytemuck::cast_slice(t.data) })).collect::<Vec<_>>();
        serialize(tensors, metadata(&self.config, &meta, extra)?)
    }
}

/// A model saved before it was built: its config only.
pub fn unbuilt_to_file_bytes(config: &ModelConfig) -> Result<Vec<u8>> {
    serialize(Vec::new(), metadata(config, &TrainingMeta::default(), &BTreeMap::new())?)
}

// ------------------------------------------------------------------------------------------------ reading

/// A refusal of the file being read: "<source> <why>", e.g. "model file 'net.safetensors' is truncated".
fn corrupt(source: &str, why: impl Into<String>) -> Error {
    Error::value(source, why)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TensorInfo {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: [u64; 2],
}

/// What the header's metadata says, checked.
struct Plan<'s> {
    source: &'s str,
    config: ModelConfig,
    meta: TrainingMeta,
    dtype: Dtype,
    /// Name → shape of every tensor that may follow (empty for an unbuilt model).
    expected: BTreeMap<String, Vec<usize>>,
    /// Where each tensor that was found lies in the data section.
    found: HashMap<String, (usize, usize)>,
    /// The metadata entries that are not the engine's.
    extra: BTreeMap<String, String>,
}

fn parse_json<'a, V: Deserialize<'a>>(source: &str, text: &'a str, what: &str) -> Result<V> {
    serde_json::from_str(text).map_err(|e| corrupt(source, format!("is corrupted: {what} is not valid ({e})")))
}

impl<'s> Plan<'s> {
    fn from_metadata(source: &'s str, entries: &HashMap<String, String>) -> Result<Self> {
        let quoted = |value: Option<&String>| value.map_or("None".to_string(), |v| format!("'{v}'"));
        let format = entries.get("format");
        if format.map(String::as_str) != Some(FORMAT) {
            let why = format!("is not a ferronet model file: its metadata format is {}, expected '{FORMAT}'", quoted(format));
            return Err(corrupt(source, why));
        }
        let version = entries.get("format_version");
        if version.map(String::as_str) != Some(FORMAT_VERSION) {
            let why = format!("has format version {}; this ferronet reads version '{FORMAT_VERSION}' (upgrade ferronet?)", quoted(version));
            return Err(corrupt(source, why));
        }
        let text = |key: &str| entries.get(key).ok_or_else(|| corrupt(source, format!("is corrupted: its metadata has no '{key}' entry")));
        let config: ModelConfig = parse_json(source, text("config")?, "the model config")?;
        config.validate().map_err(|e| corrupt(source, format!("holds an invalid model config: {e}")))?;
        let counters: CountersMeta = parse_json(source, text("counters")?, "the counters metadata")?;
        let optimizer: Option<OptimizerMeta> =
            entries.get("optimizer").map(|t| parse_json(source, t, "the optimizer metadata")).transpose()?;
        let meta = TrainingMeta { counters, optimizer };
        let dtype = config.dtype()?;
        let expected = if config.input_dim.is_none() {
            if optimizer.is_some_and(|o| o.engine.is_some()) {
                return Err(corrupt(source, "is corrupted: an unbuilt model cannot have optimizer state"));
            }
            Ok(BTreeMap::new())
        } else {
            expected_tensors(&config, &meta)
        }
        .map_err(|e| corrupt(source, format!("holds an invalid model config: {e}")))?;
        let extra = entries.iter().filter(|(key, _)| !ENGINE_KEYS.contains(&key.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
        Ok(Plan { source, config, meta, dtype, expected, found: HashMap::new(), extra })
    }

    fn element_size(&self) -> usize {
        match self.dtype {
            Dtype::F32 => 4,
            Dtype::F64 => 8,
        }
    }

    /// One tensor entry: a name the metadata allows, the model's dtype and shape, offsets that fit.
    fn accept(&mut self, name: &str, info: TensorInfo, data_len: usize) -> Result<()> {
        let what = format!("tensor '{name}'");
        let Some(shape) = self.expected.get(name) else {
            return Err(corrupt(self.source, format!("does not match its model config: unexpected tensors ['{name}']")));
        };
        if info.dtype != "F32" && info.dtype != "F64" {
            return Err(corrupt(self.source, format!("has {what} of dtype '{}'; ferronet files hold F32 or F64 tensors", info.dtype)));
        }
        let want = if self.dtype == Dtype::F32 { "F32" } else { "F64" };
        if info.dtype != want {
            return Err(corrupt(self.source, format!("has {what} of dtype {} but the model's dtype is {}", info.dtype, self.config.dtype)));
        }
        if info.shape.len() != shape.len() || info.shape.iter().zip(shape).any(|(&a, &b)| a != b as u64) {
            return Err(corrupt(self.source, format!("has {what} of shape {:?}; the model config implies {shape:?}", info.shape)));
        }
        let [begin, end] = info.data_offsets;
        let nbytes = shape.iter().try_fold(self.element_size(), |n, &d| n.checked_mul(d)).unwrap_or(usize::MAX);
        if end < begin || end - begin != nbytes as u64 {
            return Err(corrupt(
                self.source,
                format!("is corrupted: {what} of shape {shape:?} needs {nbytes} bytes but its offsets [{begin}, {end}] do not span that"),
            ));
        }
        if end > data_len as u64 {
            return Err(corrupt(
                self.source,
                format!("is truncated or corrupted: {what} ends at byte {end} of a data section of {data_len} bytes"),
            ));
        }
        if self.found.insert(name.to_string(), (begin as usize, end as usize)).is_some() {
            return Err(corrupt(self.source, format!("is corrupted: {what} appears twice")));
        }
        Ok(())
    }

    /// After the header: every parameter present, each optimizer slot for all trainable tensors or none, and
    /// the tensors tile the data section exactly.
    fn finish(&self, data_len: usize) -> Result<()> {
        let slot_of = |name: &str| name.rsplit_once('.').map(|(_, slot)| slot.to_string());
        let slots_found: Vec<String> = self.found.keys().filter(|n| n.starts_with("optimizer.")).filter_map(|n| slot_of(n)).collect();
        let missing: Vec<&String> = self
            .expected
            .keys()
            .filter(|n| !self.found.contains_key(*n))
            .filter(|n| n.starts_with("layers.") || slot_of(n).is_some_and(|slot| slots_found.contains(&slot)))
            .take(5)
            .collect();
        if !missing.is_empty() {
            return Err(corrupt(self.source, format!("does not match its model config: missing tensors {}", py_list(&missing))));
        }
        let mut spans: Vec<_> = self.found.iter().map(|(name, &(begin, end))| (begin, end, name)).collect();
        spans.sort_unstable();
        let mut position = 0;
        for (begin, end, name) in spans {
            if begin != position {
                let how = if begin < position { "overlaps another tensor" } else { "leaves a gap before it" };
                return Err(corrupt(self.source, format!("is corrupted: tensor '{name}' {how} (starts at {begin}, expected {position})")));
            }
            position = end;
        }
        if position != data_len {
            return Err(corrupt(
                self.source,
                format!("is corrupted: the tensors take {position} bytes but the data section has {data_len}"),
            ));
        }
        Ok(())
    }
}

/// Names as Python prints a list of strings: ['a', 'b'].
fn py_list(names: &[&String]) -> String {
    format!("[{}]", names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", "))
}

/// The metadata map: at most `MAX_METADATA_ENTRIES` strings.
struct MetadataSeed;

impl<'de> DeserializeSeed<'de> for MetadataSeed {
    type Value = HashMap<String, String>;
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> std::result::Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MetadataSeed {
    type Value = HashMap<String, String>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of strings")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Self::Value, A::Error> {
        let mut entries = HashMap::new();
        while let Some(key) = map.next_key::<String>()? {
            if entries.len() >= MAX_METADATA_ENTRIES {
                return Err(de::Error::custom(format!("the metadata has more than {MAX_METADATA_ENTRIES} entries")));
            }
            let value = map.next_value::<String>()?;
            if entries.insert(key, value).is_some() {
                return Err(de::Error::custom("the metadata has duplicate keys"));
            }
        }
        Ok(entries)
    }
}

/// The header: the metadata first, then tensor entries checked one by one against the plan.
struct HeaderVisitor<'s> {
    source: &'s str,
    data_len: usize,
}

/// Skip the rest of a map (without allocating), so that a refusal decided early is reported as such.
fn drain<'de, A: MapAccess<'de>>(map: &mut A) -> std::result::Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

impl<'de, 's> Visitor<'de> for HeaderVisitor<'s> {
    type Value = std::result::Result<Plan<'s>, Error>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a safetensors header (a JSON object)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Self::Value, A::Error> {
        let outcome = self.read_entries(&mut map)?;
        if outcome.is_err() {
            drain(&mut map)?;
        }
        Ok(outcome)
    }
}

impl<'s> HeaderVisitor<'s> {
    /// The metadata, then each tensor entry; stops at the first refusal (the caller skips the rest).
    fn read_entries<'de, A: MapAccess<'de>>(&self, map: &mut A) -> std::result::Result<std::result::Result<Plan<'s>, Error>, A::Error> {
        let first = map.next_key::<Cow<'de, str>>()?;
        if first.as_deref() != Some("__metadata__") {
            if first.is_some() {
                map.next_value::<IgnoredAny>()?;
            }
            return Ok(Err(corrupt(
                self.source,
                "is a safetensors file without metadata (or with its metadata not first): not a ferronet model file",
            )));
        }
        let entries = map.next_value_seed(MetadataSeed)?;
        let mut plan = match Plan::from_metadata(self.source, &entries) {
            Ok(plan) => plan,
            Err(error) => return Ok(Err(error)),
        };
        while let Some(name) = map.next_key::<Cow<'de, str>>()? {
            if name == "__metadata__" || !plan.expected.contains_key(name.as_ref()) {
                map.next_value::<IgnoredAny>()?;
                let why = if name == "__metadata__" {
                    "is corrupted: its header has two metadata entries".to_string()
                } else {
                    format!("does not match its model config: unexpected tensors ['{name}']")
                };
                return Ok(Err(corrupt(self.source, why)));
            }
            let info: TensorInfo = map.next_value()?;
            if let Err(error) = plan.accept(&name, info, self.data_len) {
                return Ok(Err(error));
            }
        }
        Ok(Ok(plan))
    }
}

/// Where a file's tensor bytes are: in memory, or still in the open file (read tensor by tensor, straight into
/// the model's buffers, so loading never holds the file's bytes and the model at once).
enum Payload<'a> {
    Bytes(&'a [u8]),
    #[cfg(unix)]
    File {
        file: &'a std::fs::File,
        offset: u64,
    },
}

/// The tensors of a checked file.
struct FileTensors<'a> {
    source: &'a str,
    data: Payload<'a>,
    found: &'a HashMap<String, (usize, usize)>,
    expected: &'a BTreeMap<String, Vec<usize>>,
}

impl<T: Real> TensorSource<T> for FileTensors<'_> {
    fn names(&self) -> Vec<String> {
        self.found.keys().cloned().collect()
    }
    fn shape(&self, name: &str) -> Option<Vec<usize>> {
        // Only tensors whose shape matched the plan were accepted while the header was read.
        self.found.get(name).and(self.expected.get(name)).cloned()
    }
    fn read_into(&self, name: &str, out: &mut [T]) -> Result<()> {
        let (begin, end) = self.found.get(name).copied().ok_or_else(|| corrupt(self.source, format!("has no tensor {name:?}")))?;
        let dst: &mut [u8] = bytemuck::cast_slice_mut(out);
        if dst.len() != end.saturating_sub(begin) {
            return Err(corrupt(self.source, format!("has tensor {name:?} of the wrong size")));
        }
        match &self.data {
            Payload::Bytes(data) => dst.copy_from_slice(data.get(begin..end).ok_or_else(|| corrupt(self.source, "is truncated"))?),
            #[cfg(unix)]
            Payload::File { file, offset } => {
                use std::os::unix::fs::FileExt;
                file.read_exact_at(dst, offset + begin as u64)
                    .map_err(|e| corrupt(self.source, format!("could not be read (tensor {name:?}: {e}); truncated?")))?;
            }
        }
        Ok(())
    }
}

/// Read a model file from its bytes; errors name it as `source` (e.g. "model file 'net.safetensors'").
pub fn read(bytes: &[u8], source: &str) -> Result<LoadedFile> {
    let size = bytes.len();
    let length = header_length(bytes.get(..8).and_then(|p| p.try_into().ok()), size as u64, source)?;
    let header = bytes.get(8..8 + length).ok_or_else(|| truncated_header(source, length, size as u64))?;
    let data = bytes.get(8 + length..).unwrap_or(&[]);
    parse(header, Payload::Bytes(data), data.len(), source)
}

/// Read a model file from an open file: the header into memory (at most `MAX_HEADER_BYTES`), then each tensor
/// from the file straight into the model's buffers.
#[cfg(unix)]
pub fn read_file(file: &std::fs::File, source: &str) -> Result<LoadedFile> {
    use std::os::unix::fs::FileExt;
    let unreadable = |e: std::io::Error| corrupt(source, format!("could not be read ({e})"));
    let size = file.metadata().map_err(unreadable)?.len();
    let mut prefix = [0u8; 8];
    let prefix = file.read_exact_at(&mut prefix, 0).ok().map(|()| prefix);
    let length = header_length(prefix, size, source)?;
    if 8 + length as u64 > size {
        return Err(truncated_header(source, length, size));
    }
    let mut header = crate::buffer::zeros::<u8>(length, "the file's header")?;
    file.read_exact_at(&mut header, 8).map_err(unreadable)?;
    let data_len = usize::try_from(size - 8 - length as u64).map_err(|_| corrupt(source, "is too large"))?;
    parse(&header, Payload::File { file, offset: 8 + length as u64 }, data_len, source)
}

fn truncated_header(source: &str, length: usize, size: u64) -> Error {
    corrupt(
        source,
        format!(
            "is truncated or not a safetensors file: its header claims {length} bytes but only {} follow the header size",
            size.saturating_sub(8)
        ),
    )
}

/// The header's length from the file's first 8 bytes (None: the file is shorter), checked.
fn header_length(prefix: Option<[u8; 8]>, size: u64, source: &str) -> Result<usize> {
    let prefix = prefix
        .ok_or_else(|| corrupt(source, format!("is not a safetensors file: it is {size} bytes, shorter than the 8-byte header size")))?;
    let length = u64::from_le_bytes(prefix);
    if length == 0 {
        return Err(corrupt(source, "is not a safetensors file: its header is empty (zero-filled or truncated file?)"));
    }
    if length > MAX_HEADER_BYTES {
        return Err(corrupt(
            source,
            format!(
                "is not a safetensors file (is it a model of another library?): its first 8 bytes claim a header of {length} bytes (at most {MAX_HEADER_BYTES})"
            ),
        ));
    }
    usize::try_from(length).map_err(|_| corrupt(source, "has a header too large for this machine"))
}

/// Check the header against the tensors' bytes (`data_len` of them) and load the model.
fn parse(header: &[u8], data: Payload<'_>, data_len: usize, source: &str) -> Result<LoadedFile> {
    let mut deserializer = serde_json::Deserializer::from_slice(header);
    let mut plan = de::Deserializer::deserialize_map(&mut deserializer, HeaderVisitor { source, data_len })
        .map_err(|e| corrupt(source, format!("is corrupted: its header is not valid safetensors JSON ({e})")))??;
    // Header padding: safetensors pads with spaces; anything else after the object is corruption.
    deserializer.end().map_err(|e| corrupt(source, format!("is corrupted: its header is not valid safetensors JSON ({e})")))?;
    plan.finish(data_len)?;
    let optimizer = plan.meta.optimizer.and_then(|o| o.config.or(o.engine));
    let extra = std::mem::take(&mut plan.extra);
    if plan.config.input_dim.is_none() {
        return Ok(LoadedFile { config: plan.config, model: None, optimizer, extra });
    }
    let source = FileTensors { source, data, found: &plan.found, expected: &plan.expected };
    let model = match plan.dtype {
        Dtype::F32 => AnyModel::F32(load_into::<f32>(&plan, &source)?),
        Dtype::F64 => AnyModel::F64(load_into::<f64>(&plan, &source)?),
    };
    Ok(LoadedFile { config: plan.config, model: Some(model), optimizer, extra })
}

fn load_into<T: Real>(plan: &Plan<'_>, tensors: &FileTensors<'_>) -> Result<Model<T>> {
    let mut model = Model::<T>::blank(&plan.config)?;
    model.import(tensors, &plan.meta).map_err(|e| corrupt(plan.source, format!("holds invalid values: {e}")))?;
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{"layers": [{"kind": "dense", "units": 4, "activation": "relu", "init": "he", "dropconnect": 0.0},
        {"kind": "batchnorm", "momentum": 0.9, "eps": 1e-05}, {"kind": "dense", "units": 2, "activation": "linear",
        "init": "xavier", "dropconnect": 0.0}], "input_dim": 3, "loss": "softmax_cross_entropy", "l1": 0.0, "l2": 0.0,
        "dtype": "float32", "seed": 1, "penalty_per_sample": false}"#;

    fn model() -> Result<Model<f32>> {
        let mut model = Model::<f32>::build(ModelConfig::from_json(CONFIG)?)?;
        model.trainer.opt.configure(crate::optim::Optimizer::Adam { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 }, false)?;
        model.trainer.opt.prepare(model.network.layers.iter().map(|l| l.param_lens()))?;
        for slots in model.trainer.opt.slots.iter_mut().flatten() {
            slots.first.iter_mut().for_each(|v| *v = 0.25);
            slots.second.iter_mut().for_each(|v| *v = 0.5);
        }
        model.trainer.opt.updates = 7;
        model.trainer.counters.step = 9;
        Ok(model)
    }

    #[test]
    fn a_model_round_trips_through_its_file() -> Result<()> {
        let original = model()?;
        let bytes = original.to_file_bytes(true, &BTreeMap::new())?;
        let loaded = read(&bytes, "test file")?;
        assert!(loaded.extra.is_empty());
        let Some(AnyModel::F32(copy)) = loaded.model else { panic!("a float32 model") };
        assert_eq!(copy.network.layers, original.network.layers);
        assert_eq!(copy.trainer.opt, original.trainer.opt);
        assert_eq!(copy.trainer.counters, original.trainer.counters);
        assert!(loaded.optimizer.is_some());
        Ok(())
    }

    #[test]
    fn a_callers_metadata_round_trips_and_may_not_take_an_engine_key() -> Result<()> {
        let original = model()?;
        let extra = BTreeMap::from([("sklearn".to_string(), r#"{"classes": [1, 2]}"#.to_string())]);
        let loaded = read(&original.to_file_bytes(false, &extra)?, "test file")?;
        assert_eq!(loaded.extra, extra);
        assert!(loaded.model.is_some());
        for key in ENGINE_KEYS {
            let clash = BTreeMap::from([(key.to_string(), "x".to_string())]);
            let message = original.to_file_bytes(true, &clash).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(message.contains("may not use the key"), "{message}");
        }
        let many: BTreeMap<String, String> = (0..MAX_METADATA_ENTRIES).map(|i| (format!("k{i}"), String::new())).collect();
        assert!(original.to_file_bytes(true, &many).is_err());
        Ok(())
    }

    #[test]
    fn hostile_headers_are_refused_with_the_source_named() {
        let header = |text: &str| {
            let mut bytes = (text.len() as u64).to_le_bytes().to_vec();
            bytes.extend_from_slice(text.as_bytes());
            bytes
        };
        let cases = [
            (header("[{}, {}, {}]"), "a JSON object"),
            (header(r#"{"weight": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}"#), "without metadata"),
            (header(r#"{"__metadata__": {"format": "pt"}}"#), "its metadata format is 'pt'"),
            (vec![1, 2, 3], "shorter than the 8-byte header size"),
        ];
        for (bytes, fragment) in cases {
            let message = read(&bytes, "model file 'x'").err().map(|e| e.to_string()).unwrap_or_default();
            assert!(message.starts_with("model file 'x' ") && message.contains(fragment), "{message}");
        }
        let mut junk = String::from(r#"{"__metadata__": {"#);
        junk.push_str(&(0..100).map(|i| format!(r#""k{i}": "v""#)).collect::<Vec<_>>().join(", "));
        junk.push_str("}}");
        let message = read(&header(&junk), "f").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("more than 64 entries"), "{message}");
    }
}
