//! The vector-search component (`wasiclaw:core/vector-kernel`) under
//! wasmtime, behind a small typed wrapper. The benchmark and the
//! integration tests use it to drive the real `dist/components/vector.wasm`
//! and compare it with the native `wasiclaw-vector` crate.

use anyhow::{Context, Result};
use std::path::Path;
use wasmtime::component::{Component, Linker, ResourceAny};
use wasmtime::{Config, Engine, Store};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "vector-kernel",
        additional_derives: [PartialEq],
    });
}

use bindings::exports::wasiclaw::core::vector as wit;
pub use wit::{Error as KernelError, Hit, Metric, Params, Storage};

/// An index living inside the component: a resource handle, valid only for
/// the [`VectorKernel`] that made it.
#[derive(Clone, Copy, Debug)]
pub struct IndexHandle(ResourceAny);

fn api(k: &bindings::VectorKernel) -> wit::GuestIndex<'_> {
    k.wasiclaw_core_vector().index()
}

/// One instance of the vector component with its own store.
pub struct VectorKernel {
    store: Store<()>,
    kernel: bindings::VectorKernel,
}

impl VectorKernel {
    /// Compiles and instantiates the component at `path` (it has no imports).
    pub fn load(path: &Path) -> Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        let engine = Engine::new(&config).map_err(anyhow::Error::from)?;
        let component = Component::from_file(&engine, path)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("loading vector component {}", path.display()))?;
        let linker = Linker::new(&engine);
        let mut store = Store::new(&engine, ());
        // A snapshot is returned in one piece and can exceed wasmtime's
        // default 128 MiB per-call copy limit (100k x 384 vectors save as
        // 170 MB); a wasm32 guest cannot return more than its 4 GiB memory.
        store.set_hostcall_fuel(usize::MAX);
        let kernel = bindings::VectorKernel::instantiate(&mut store, &component, &linker)
            .map_err(anyhow::Error::from)
            .context("instantiating the vector component")?;
        Ok(VectorKernel { store, kernel })
    }

    pub fn new_index(&mut self, dims: u32, metric: Metric, params: Params) -> Result<IndexHandle> {
        let h = api(&self.kernel).call_constructor(&mut self.store, dims, metric, params)?;
        Ok(IndexHandle(h))
    }

    pub fn insert(
        &mut self,
        idx: IndexHandle,
        id: u64,
        v: &[f32],
    ) -> Result<Result<(), KernelError>> {
        Ok(api(&self.kernel).call_insert(&mut self.store, idx.0, id, v)?)
    }

    pub fn remove(&mut self, idx: IndexHandle, id: u64) -> Result<bool> {
        Ok(api(&self.kernel).call_remove(&mut self.store, idx.0, id)?)
    }

    pub fn search(
        &mut self,
        idx: IndexHandle,
        query: &[f32],
        k: u32,
        ef: u32,
    ) -> Result<Result<Vec<Hit>, KernelError>> {
        Ok(api(&self.kernel).call_search(&mut self.store, idx.0, query, k, ef)?)
    }

    pub fn len(&mut self, idx: IndexHandle) -> Result<u64> {
        Ok(api(&self.kernel).call_len(&mut self.store, idx.0)?)
    }

    pub fn compact(&mut self, idx: IndexHandle) -> Result<()> {
        Ok(api(&self.kernel).call_compact(&mut self.store, idx.0)?)
    }

    pub fn save(&mut self, idx: IndexHandle) -> Result<Vec<u8>> {
        Ok(api(&self.kernel).call_save(&mut self.store, idx.0)?)
    }

    /// `index.load`: a new index from a snapshot, or the kernel's error.
    pub fn load_index(&mut self, bytes: &[u8]) -> Result<Result<IndexHandle, KernelError>> {
        Ok(api(&self.kernel)
            .call_load(&mut self.store, bytes)?
            .map(IndexHandle))
    }

    /// Drops the resource (runs the component's destructor).
    pub fn drop_index(&mut self, idx: IndexHandle) -> Result<()> {
        Ok(idx.0.resource_drop(&mut self.store)?)
    }
}

impl From<wasiclaw_vector::Metric> for Metric {
    fn from(m: wasiclaw_vector::Metric) -> Self {
        match m {
            wasiclaw_vector::Metric::Cosine => Metric::Cosine,
            wasiclaw_vector::Metric::L2 => Metric::L2,
            wasiclaw_vector::Metric::Dot => Metric::Dot,
        }
    }
}

impl From<wasiclaw_vector::Params> for Params {
    fn from(p: wasiclaw_vector::Params) -> Self {
        Params {
            m: p.m,
            ef_construction: p.ef_construction,
            storage: match p.storage {
                wasiclaw_vector::Storage::F32 => Storage::Full,
                wasiclaw_vector::Storage::Int8 => Storage::Int8,
            },
        }
    }
}

/// The component's rendering of a native error, for comparing the two.
impl From<wasiclaw_vector::Error> for KernelError {
    fn from(e: wasiclaw_vector::Error) -> Self {
        use wasiclaw_vector::Error as N;
        match e {
            N::DimensionMismatch { expected, got } => {
                KernelError::DimensionMismatch((expected, got))
            }
            N::DuplicateId(id) => KernelError::DuplicateId(id),
            N::CorruptData(m) => KernelError::CorruptData(m.into()),
            N::Capacity(m) => KernelError::Capacity(m.into()),
            N::InvalidArgument(m) => KernelError::InvalidArgument(m.into()),
        }
    }
}
