//! [`HeapDma`]: host memory for a simulated device. DMA buffers live on the
//! heap at made-up IOVAs, and the device model reaches them by IOVA through
//! [`abi::hostring::HostMemory`], as a DMA engine reaches host memory
//! through the IOMMU.

use crate::device::{check_dma, DeviceError, DmaBuffer};
use abi::hostring::HostMemory;
use std::sync::{Arc, Mutex, MutexGuard};

/// First IOVA handed out (0 stays unmapped, so a zeroed descriptor faults).
const IOVA_BASE: u64 = 0x1_0000_0000;
/// Alignment of every buffer; one unmapped page separates two buffers, so
/// an overrun faults instead of hitting a neighbour.
const PAGE: u64 = 4096;

#[derive(Debug, Default)]
struct Regions {
    /// `(iova, bytes)`, sorted by IOVA.
    regions: Vec<(u64, Vec<u8>)>,
    next: u64,
}

impl Regions {
    fn find(&self, iova: u64, len: usize) -> Option<(usize, usize)> {
        let i = self
            .regions
            .partition_point(|r| r.0 <= iova)
            .checked_sub(1)?;
        let (base, bytes) = &self.regions[i];
        let off = (iova - base) as usize;
        (off.checked_add(len)? <= bytes.len()).then_some((i, off))
    }
}

impl HostMemory for Regions {
    fn read(&self, iova: u64, out: &mut [u8]) -> bool {
        match self.find(iova, out.len()) {
            Some((i, off)) => {
                out.copy_from_slice(&self.regions[i].1[off..off + out.len()]);
                true
            }
            None => false,
        }
    }

    fn write(&mut self, iova: u64, data: &[u8]) -> bool {
        match self.find(iova, data.len()) {
            Some((i, off)) => {
                self.regions[i].1[off..off + data.len()].copy_from_slice(data);
                true
            }
            None => false,
        }
    }
}

/// Shared host memory of one simulated device (clones share it).
#[derive(Clone, Debug, Default)]
pub struct HeapDma {
    inner: Arc<Mutex<Regions>>,
}

fn lock(m: &Mutex<Regions>) -> MutexGuard<'_, Regions> {
    // A panic while holding the lock leaves plain bytes behind: still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl HeapDma {
    /// A zeroed buffer of `len` bytes at a fresh, page-aligned IOVA.
    pub fn alloc(&self, len: usize) -> Box<dyn DmaBuffer> {
        let mut r = lock(&self.inner);
        let iova = IOVA_BASE + r.next;
        r.next += (len as u64).div_ceil(PAGE) * PAGE + PAGE;
        r.regions.push((iova, vec![0; len]));
        Box::new(HeapBuffer {
            mem: self.inner.clone(),
            iova,
            len,
        })
    }

    /// Runs `f` with the memory as the device sees it.
    pub fn with<R>(&self, f: impl FnOnce(&mut dyn HostMemory) -> R) -> R {
        f(&mut *lock(&self.inner))
    }
}

#[derive(Debug)]
struct HeapBuffer {
    mem: Arc<Mutex<Regions>>,
    iova: u64,
    len: usize,
}

impl DmaBuffer for HeapBuffer {
    fn iova(&self) -> u64 {
        self.iova
    }

    fn len(&self) -> usize {
        self.len
    }

    fn read(&self, offset: usize, out: &mut [u8]) -> Result<(), DeviceError> {
        check_dma(offset, out.len(), self.len)?;
        let ok = lock(&self.mem).read(self.iova + offset as u64, out);
        debug_assert!(ok, "a live buffer is mapped");
        Ok(())
    }

    fn write(&mut self, offset: usize, data: &[u8]) -> Result<(), DeviceError> {
        check_dma(offset, data.len(), self.len)?;
        let ok = lock(&self.mem).write(self.iova + offset as u64, data);
        debug_assert!(ok, "a live buffer is mapped");
        Ok(())
    }
}

impl Drop for HeapBuffer {
    fn drop(&mut self) {
        let mut r = lock(&self.mem);
        if let Ok(i) = r.regions.binary_search_by_key(&self.iova, |x| x.0) {
            r.regions.remove(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_separate_and_unmapped_when_dropped() {
        let m = HeapDma::default();
        let mut a = m.alloc(10);
        let b = m.alloc(4096);
        assert!(b.iova() >= a.iova() + 2 * PAGE && b.iova() % PAGE == 0);
        a.write(6, &[1, 2, 3, 4]).unwrap();
        assert!(a.write(7, &[0; 4]).is_err());
        let mut out = [0u8; 4];
        assert!(m.with(|h| h.read(a.iova() + 6, &mut out)));
        assert_eq!(out, [1, 2, 3, 4]);
        // Past the end of `a` is unmapped, as is IOVA 0.
        assert!(!m.with(|h| h.read(a.iova() + 8, &mut out)));
        assert!(!m.with(|h| h.write(0, &[0])));
        let at = a.iova();
        drop(a);
        assert!(!m.with(|h| h.read(at, &mut out)));
        drop(b);
    }
}
