//! The tools' [`Vectors`] seam over the `wasiclaw-vector` crate linked in
//! directly: in the component the same index sits behind the vector-kernel
//! import, here it is an ordinary call.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use wasiclaw_tools::platform::{VectorIndex, Vectors};
use wasiclaw_vector::{Index, Metric, Params};

pub struct LinkedVectors;

pub struct LinkedIndex(Index);

impl VectorIndex for LinkedIndex {
    fn insert(&mut self, id: u64, vector: &[f32]) -> Result<(), String> {
        self.0.insert(id, vector).map_err(|e| e.to_string())
    }

    fn search(&mut self, query: &[f32], k: u32, ef: u32) -> Result<Vec<(u64, f32)>, String> {
        let hits = self.0.search(query, k, ef).map_err(|e| e.to_string())?;
        Ok(hits.into_iter().map(|h| (h.id, h.distance)).collect())
    }

    fn count(&self) -> u64 {
        self.0.len()
    }

    fn save(&mut self) -> Vec<u8> {
        self.0.save()
    }
}

impl Vectors for LinkedVectors {
    type Index = LinkedIndex;

    fn create(&self, dims: u32) -> LinkedIndex {
        LinkedIndex(Index::new(dims, Metric::Cosine, Params::default()))
    }

    fn load(&self, bytes: &[u8]) -> Result<LinkedIndex, String> {
        Index::load(bytes)
            .map(LinkedIndex)
            .map_err(|e| e.to_string())
    }
}
