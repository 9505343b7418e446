//! Per-CPU values.

use std::ops::{Deref, DerefMut};

use super::MapError;
use crate::pod::{bytes_of, read_pod, Pod};
use crate::sys;

/// One value per *possible* CPU, as per-CPU maps store them.
///
/// The kernel copies per-CPU values as one slot per possible CPU, each slot `size_of::<V>()`
/// rounded up to 8 bytes; `PerCpuValues` hides that padding. Index it like a slice:
///
/// ```no_run
/// use bpfkit::maps::PerCpuValues;
/// let cpus = bpfkit::sys::possible_cpus()?;
/// let values = PerCpuValues::try_from(vec![0u64; cpus])?;
/// let total: u64 = values.iter().sum();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PerCpuValues<V: Pod> {
    values: Box<[V]>,
}

impl<V: Pod> PerCpuValues<V> {
    /// The same value for every possible CPU.
    pub fn splat(value: V) -> Result<PerCpuValues<V>, MapError> {
        let cpus = sys::possible_cpus().map_err(MapError::PossibleCpus)?;
        Ok(PerCpuValues {
            values: vec![value; cpus].into_boxed_slice(),
        })
    }

    /// Size of one CPU's slot in the kernel's buffer.
    pub(crate) fn stride() -> usize {
        std::mem::size_of::<V>().div_ceil(8) * 8
    }

    /// Decodes the kernel's buffer: one padded slot per possible CPU.
    pub(crate) fn from_kernel_bytes(name: &str, bytes: &[u8]) -> Result<PerCpuValues<V>, MapError> {
        let stride = Self::stride();
        let unexpected = || MapError::UnexpectedSize {
            name: name.to_owned(),
            expected: stride,
            actual: bytes.len(),
        };
        if stride == 0 || bytes.len() % stride != 0 {
            return Err(unexpected());
        }
        let values = bytes
            .chunks_exact(stride)
            .map(|slot| read_pod::<V>(slot).ok_or_else(unexpected))
            .collect::<Result<Vec<V>, MapError>>()?;
        Ok(PerCpuValues {
            values: values.into_boxed_slice(),
        })
    }

    /// Encodes into the kernel's layout, zero-filling each slot's padding.
    pub(crate) fn to_kernel_bytes(&self) -> Result<Vec<u8>, MapError> {
        let cpus = sys::possible_cpus().map_err(MapError::PossibleCpus)?;
        if self.values.len() != cpus {
            return Err(MapError::PerCpuCountMismatch {
                expected: cpus,
                actual: self.values.len(),
            });
        }
        let stride = Self::stride();
        let mut out = vec![0u8; stride.saturating_mul(cpus)];
        for (slot, value) in out.chunks_exact_mut(stride).zip(self.values.iter()) {
            let bytes = bytes_of(value);
            if let Some(dst) = slot.get_mut(..bytes.len()) {
                dst.copy_from_slice(bytes);
            }
        }
        Ok(out)
    }

    /// The values, one per possible CPU.
    pub fn into_vec(self) -> Vec<V> {
        self.values.into_vec()
    }
}

impl<V: Pod> TryFrom<Vec<V>> for PerCpuValues<V> {
    type Error = MapError;

    /// Fails unless there is exactly one value per possible CPU.
    fn try_from(values: Vec<V>) -> Result<Self, MapError> {
        let cpus = sys::possible_cpus().map_err(MapError::PossibleCpus)?;
        if values.len() != cpus {
            return Err(MapError::PerCpuCountMismatch {
                expected: cpus,
                actual: values.len(),
            });
        }
        Ok(PerCpuValues {
            values: values.into_boxed_slice(),
        })
    }
}

impl<V: Pod> Deref for PerCpuValues<V> {
    type Target = [V];

    fn deref(&self) -> &[V] {
        &self.values
    }
}

impl<V: Pod> DerefMut for PerCpuValues<V> {
    fn deref_mut(&mut self) -> &mut [V] {
        &mut self.values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_padded_to_8_bytes() {
        assert_eq!(PerCpuValues::<u32>::stride(), 8);
        assert_eq!(PerCpuValues::<u64>::stride(), 8);
        assert_eq!(PerCpuValues::<[u8; 12]>::stride(), 16);
        assert_eq!(PerCpuValues::<u8>::stride(), 8);
    }

    #[test]
    fn kernel_layout_round_trip() {
        let cpus = sys::possible_cpus().expect("possible cpus");
        let values: Vec<u32> = (0..cpus as u32).map(|c| 0xA0 + c).collect();
        let per_cpu = PerCpuValues::try_from(values.clone()).expect("one per cpu");
        let bytes = per_cpu.to_kernel_bytes().expect("encode");
        assert_eq!(bytes.len(), 8 * cpus);
        for (cpu, slot) in bytes.chunks_exact(8).enumerate() {
            assert_eq!(&slot[..4], &(0xA0 + cpu as u32).to_ne_bytes());
            assert_eq!(&slot[4..], &[0, 0, 0, 0], "padding is zero");
        }
        let back = PerCpuValues::<u32>::from_kernel_bytes("m", &bytes).expect("decode");
        assert_eq!(&*back, &values[..]);
        assert!(PerCpuValues::<u32>::from_kernel_bytes("m", &bytes[..5]).is_err());
    }

    #[test]
    fn wrong_cpu_count_is_an_error() {
        let cpus = sys::possible_cpus().expect("possible cpus");
        let err = PerCpuValues::try_from(vec![1u64; cpus + 1]).expect_err("too many");
        assert!(
            matches!(err, MapError::PerCpuCountMismatch { expected, actual } if expected == cpus && actual == cpus + 1)
        );
        assert_eq!(PerCpuValues::splat(3u16).expect("splat").len(), cpus);
    }
}
