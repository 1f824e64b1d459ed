//! The fixed plan of a product: how it is cut into k-blocks, column blocks and tasks, from the shapes alone.
//!
//! Every output element is computed by the same micro-kernel over the same k-blocks whatever task it lands in,
//! so the bits depend on the plan only. The plan never looks at the thread count: threads only choose which
//! tasks they run, hence identical results on any number of threads.

/// Register tile and cache blocking of one kernel (instruction set × element type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    /// Rows of the register tile.
    pub mr: usize,
    /// Columns of the register tile (a whole number of vectors).
    pub nr: usize,
    /// Longest k-block (C is read and rewritten once per k-block; 256-1024 measured alike at our shapes).
    pub kc_max: usize,
    /// Most rows per task: a task's packed A block (rows × kc) stays in L2.
    pub mc_max: usize,
    /// Bytes of packed B shared by the tasks of one column block (kept in L2/L3).
    pub b_bytes: usize,
    /// Size of one element.
    pub elem_bytes: usize,
}

/// Multiply-adds per task below which a product is not cut further (a task must outweigh its scheduling).
const MIN_TASK_MACS: usize = 1 << 18;
/// Tasks per column block to aim for once the product is large: divisible by 1, 2, 3 and 4 threads.
const TASKS: usize = 12;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub mr: usize,
    pub nr: usize,
    /// k-block length (the last block may be shorter).
    pub kc: usize,
    /// Column-block width, a multiple of nr (the last block may be narrower).
    pub nc: usize,
    /// Rows per task, a multiple of mr.
    pub m_chunk: usize,
    /// Columns per task, a multiple of nr.
    pub n_chunk: usize,
}

/// A task's rectangle of C: rows `i0..i1`, columns `j0..j1` (absolute).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    pub i0: usize,
    pub i1: usize,
    pub j0: usize,
    pub j1: usize,
}

fn div_ceil(a: usize, b: usize) -> usize {
    a.div_ceil(b.max(1))
}

fn round_up(a: usize, to: usize) -> usize {
    div_ceil(a, to) * to.max(1)
}

impl Plan {
    /// The plan of `C (m × n) = A (m × k) · B (k × n)` for a kernel with `params`.
    pub fn new(m: usize, n: usize, k: usize, params: Params) -> Plan {
        let Params { mr, nr, kc_max, mc_max, b_bytes, elem_bytes } = params;
        // Equal k-blocks, as few as fit.
        let kc = div_ceil(k, div_ceil(k, kc_max)).max(1);
        // Equal column blocks whose packed B fits the budget.
        let nc_max = (b_bytes / (k.max(1) * elem_bytes) / nr * nr).max(nr);
        let nc = round_up(div_ceil(n, div_ceil(n, nc_max)), nr).max(nr);
        // Tasks: rows first (A is then read once), then columns if there are too few row chunks.
        let macs = m.saturating_mul(nc.min(n)).saturating_mul(k.max(1));
        let wanted = (macs / MIN_TASK_MACS).clamp(1, TASKS);
        let m_tiles = div_ceil(m, mr).max(1);
        let tiles_per_chunk = div_ceil(m_tiles, wanted).min((mc_max / mr).max(1));
        let m_chunks = div_ceil(m_tiles, tiles_per_chunk);
        let n_panels = div_ceil(nc.min(n.max(1)), nr).max(1);
        let n_chunks = div_ceil(wanted, m_chunks).min(n_panels);
        let panels_per_chunk = div_ceil(n_panels, n_chunks);
        Plan { mr, nr, kc, nc, m_chunk: tiles_per_chunk * mr, n_chunk: panels_per_chunk * nr }
    }

    /// The k-blocks `(start, length)`.
    pub fn k_blocks(&self, k: usize) -> impl Iterator<Item = (usize, usize)> + use<> {
        let kc = self.kc;
        (0..k).step_by(kc).map(move |p0| (p0, kc.min(k - p0)))
    }

    /// The column blocks `(start, width)`.
    pub fn column_blocks(&self, n: usize) -> impl Iterator<Item = (usize, usize)> + use<> {
        let nc = self.nc;
        (0..n).step_by(nc).map(move |j0| (j0, nc.min(n - j0)))
    }

    /// Tasks of a column block `width` wide.
    pub fn task_count(&self, m: usize, width: usize) -> usize {
        div_ceil(m, self.m_chunk) * div_ceil(width, self.n_chunk)
    }

    /// Task `t` of the column block starting at `n0`, `width` wide.
    pub fn task(&self, t: usize, m: usize, n0: usize, width: usize) -> Rect {
        let n_tasks = div_ceil(width, self.n_chunk).max(1);
        let (mi, nj) = (t / n_tasks, t % n_tasks);
        let i0 = (mi * self.m_chunk).min(m);
        let j0 = (nj * self.n_chunk).min(width);
        Rect { i0, i1: (i0 + self.m_chunk).min(m), j0: n0 + j0, j1: n0 + (j0 + self.n_chunk).min(width) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: Params = Params { mr: 12, nr: 32, kc_max: 256, mc_max: 240, b_bytes: 4 << 20, elem_bytes: 4 };

    /// Every element of C belongs to exactly one task.
    fn assert_tiles_exactly(m: usize, n: usize, k: usize) {
        let plan = Plan::new(m, n, k, P);
        let mut hits = vec![0u8; m * n];
        for (n0, width) in plan.column_blocks(n) {
            for t in 0..plan.task_count(m, width) {
                let r = plan.task(t, m, n0, width);
                for i in r.i0..r.i1 {
                    for j in r.j0..r.j1 {
                        hits[i * n + j] += 1;
                    }
                }
            }
        }
        assert!(hits.iter().all(|&h| h == 1), "{m}x{n}x{k}: {plan:?}");
    }

    #[test]
    fn tasks_cover_the_output_once() {
        for (m, n, k) in [(1, 1, 1), (512, 256, 784), (32, 256, 784), (7, 1000, 3), (2048, 2048, 2048), (100, 10, 128), (13, 33, 0)] {
            assert_tiles_exactly(m, n, k);
        }
    }

    #[test]
    fn k_blocks_are_equal_and_cover_k() {
        let plan = Plan::new(512, 256, 784, P);
        let blocks: Vec<_> = plan.k_blocks(784).collect();
        assert_eq!(blocks, vec![(0, 196), (196, 196), (392, 196), (588, 196)]);
        assert_eq!(Plan::new(4, 4, 0, P).k_blocks(0).count(), 0);
    }

    #[test]
    fn large_products_get_several_tasks_small_ones_one() {
        let big = Plan::new(512, 256, 784, P);
        assert!(big.task_count(512, 256) >= 8);
        let small = Plan::new(16, 16, 16, P);
        assert_eq!(small.task_count(16, 16), 1);
    }
}
