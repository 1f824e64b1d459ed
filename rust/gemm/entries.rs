//! The compiled entry points of each (instruction set, element type): the kernels and packing routines inlined
//! into functions built with that set's `#[target_feature]`, and the blocking each one was tuned with.

use super::driver::{Block, Job, pack_b, run_task};
use super::plan::Params;
use super::simd::generic::{GenericF32, GenericF64};

/// What the driver calls for one (instruction set, element type).
pub struct Entries<T: 'static> {
    pub params: Params,
    /// Pack one panel of a block's B.
    pub pack_b: unsafe fn(&Job<T>, &Block<T>, usize),
    /// Run one task of a block (with its scratch buffer).
    pub task: unsafe fn(&Job<T>, &Block<T>, usize, *mut T),
}

macro_rules! entries {
    ($name:ident, $t:ty, $simd:ty, mr = $mr:literal, nv = $nv:literal, nr = $nr:literal, kc = $kc:literal, mc = $mc:literal
     $(, feature = $feature:literal)?) => {
        pub mod $name {
            use super::*;

            $(#[target_feature(enable = $feature)])?
            /// # Safety
            /// The contract of `driver::pack_b`, on a CPU with this instruction set.
            unsafe fn pack(job: &Job<$t>, block: &Block<$t>, panel: usize) {
                // SAFETY: forwarded contract.
                unsafe { pack_b::<$simd, $nr>(job, block, panel) }
            }

            $(#[target_feature(enable = $feature)])?
            /// # Safety
            /// The contract of `driver::run_task`, on a CPU with this instruction set.
            unsafe fn task(job: &Job<$t>, block: &Block<$t>, t: usize, scratch: *mut $t) {
                // SAFETY: forwarded contract; this function is compiled for the set `$simd` needs.
                unsafe { run_task::<$simd, $mr, $nv, $nr>(job, block, t, scratch) }
            }

            pub static ENTRIES: Entries<$t> = Entries {
                params: Params {
                    mr: $mr,
                    nr: $nr,
                    kc_max: $kc,
                    mc_max: $mc,
                    b_bytes: 4 << 20,
                    elem_bytes: std::mem::size_of::<$t>(),
                },
                pack_b: pack,
                task,
            };
        }
    };
}

// Three register tiles per (set, type): the wide one; a one-vector one for products at most one vector wide
// (output layers of 2-10 units), which would waste most lanes of the wide one; and a one-row one for products of
// one row (and, transposed, of one column), which would waste most rows of the others. All of a set use the same
// kc, so they give the same bits.
entries!(generic_f32, f32, GenericF32, mr = 4, nv = 2, nr = 16, kc = 256, mc = 128);
entries!(generic_f64, f64, GenericF64, mr = 4, nv = 2, nr = 8, kc = 256, mc = 128);
entries!(generic_f32_narrow, f32, GenericF32, mr = 8, nv = 1, nr = 8, kc = 256, mc = 128);
entries!(generic_f64_narrow, f64, GenericF64, mr = 8, nv = 1, nr = 4, kc = 256, mc = 128);
entries!(generic_f32_row, f32, GenericF32, mr = 1, nv = 4, nr = 32, kc = 256, mc = 128);
entries!(generic_f64_row, f64, GenericF64, mr = 1, nv = 4, nr = 16, kc = 256, mc = 128);

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use crate::gemm::simd::avx2::{Avx2F32, Avx2F64};
    use crate::gemm::simd::avx512::{Avx512F32, Avx512F64};

    entries!(avx2_f32, f32, Avx2F32, mr = 6, nv = 2, nr = 16, kc = 512, mc = 144, feature = "avx2,fma");
    entries!(avx2_f64, f64, Avx2F64, mr = 6, nv = 2, nr = 8, kc = 512, mc = 144, feature = "avx2,fma");
    entries!(avx512_f32, f32, Avx512F32, mr = 8, nv = 2, nr = 32, kc = 512, mc = 144, feature = "avx512f,avx2,fma");
    entries!(avx512_f64, f64, Avx512F64, mr = 8, nv = 2, nr = 16, kc = 512, mc = 144, feature = "avx512f,avx2,fma");
    entries!(avx2_f32_narrow, f32, Avx2F32, mr = 12, nv = 1, nr = 8, kc = 512, mc = 144, feature = "avx2,fma");
    entries!(avx2_f64_narrow, f64, Avx2F64, mr = 12, nv = 1, nr = 4, kc = 512, mc = 144, feature = "avx2,fma");
    entries!(avx512_f32_narrow, f32, Avx512F32, mr = 16, nv = 1, nr = 16, kc = 512, mc = 144, feature = "avx512f,avx2,fma");
    entries!(avx512_f64_narrow, f64, Avx512F64, mr = 16, nv = 1, nr = 8, kc = 512, mc = 144, feature = "avx512f,avx2,fma");
    entries!(avx2_f32_row, f32, Avx2F32, mr = 1, nv = 8, nr = 64, kc = 512, mc = 144, feature = "avx2,fma");
    entries!(avx2_f64_row, f64, Avx2F64, mr = 1, nv = 8, nr = 32, kc = 512, mc = 144, feature = "avx2,fma");
    entries!(avx512_f32_row, f32, Avx512F32, mr = 1, nv = 4, nr = 64, kc = 512, mc = 144, feature = "avx512f,avx2,fma");
    entries!(avx512_f64_row, f64, Avx512F64, mr = 1, nv = 4, nr = 32, kc = 512, mc = 144, feature = "avx512f,avx2,fma");
}
#[cfg(target_arch = "x86_64")]
pub use x86::{
    avx2_f32, avx2_f32_narrow, avx2_f32_row, avx2_f64, avx2_f64_narrow, avx2_f64_row, avx512_f32, avx512_f32_narrow, avx512_f32_row,
    avx512_f64, avx512_f64_narrow, avx512_f64_row,
};
