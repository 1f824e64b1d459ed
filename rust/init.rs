//! Weight initializations (docs/formulas.md); N(0, σ²) names a variance. Biases always start at zero.

use rand::RngExt;
use rand::distr::Uniform;
use rand_distr::StandardNormal;

use crate::error::{Error, Result};
use crate::rng;
use crate::scalar::Real;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// N(0, 2/fan_in)
    He,
    /// Glorot normal: N(0, 2/(fan_in + fan_out))
    Xavier,
    /// Glorot uniform: U(±sqrt(6/(fan_in + fan_out)))
    XavierUniform,
    /// N(0, 1/fan_in)
    Lecun,
    /// U(−1, 1)
    Uniform,
    /// 0.01·N(0, 1)
    Small,
    Zeros,
}

impl Init {
    pub const ALL: [Init; 7] = [Init::He, Init::Xavier, Init::XavierUniform, Init::Lecun, Init::Uniform, Init::Small, Init::Zeros];

    pub fn name(self) -> &'static str {
        match self {
            Init::He => "he",
            Init::Xavier => "xavier",
            Init::XavierUniform => "xavier_uniform",
            Init::Lecun => "lecun",
            Init::Uniform => "uniform",
            Init::Small => "small",
            Init::Zeros => "zeros",
        }
    }

    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|i| i.name() == name).ok_or_else(|| {
            let names: Vec<_> = Self::ALL.iter().map(|i| i.name()).collect();
            Error::value("init", format!("must be one of {names:?}; got {name:?}"))
        })
    }

    /// Fill a (fan_in × fan_out) weight matrix for layer number `layer` of a model seeded with `seed`.
    pub fn fill<T: Real>(self, w: &mut [T], fan_in: usize, fan_out: usize, seed: u64, layer: usize) -> Result<()> {
        let mut generator = rng::init_rng(seed, layer);
        let (fi, fo) = (fan_in as f64, fan_out as f64);
        let normal = |std: f64, w: &mut [T], generator: &mut rand::rngs::Xoshiro256PlusPlus| {
            for v in w.iter_mut() {
                let z: f64 = generator.sample(StandardNormal);
                *v = T::of(std * z);
            }
        };
        let uniform = |limit: f64, w: &mut [T], generator: &mut rand::rngs::Xoshiro256PlusPlus| -> Result<()> {
            let dist = Uniform::new(-limit, limit).map_err(|e| Error::value("init", format!("gives a bad uniform range ±{limit}: {e}")))?;
            for v in w.iter_mut() {
                *v = T::of(generator.sample(dist));
            }
            Ok(())
        };
        match self {
            Init::He => normal((2.0 / fi).sqrt(), w, &mut generator),
            Init::Xavier => normal((2.0 / (fi + fo)).sqrt(), w, &mut generator),
            Init::XavierUniform => uniform((6.0 / (fi + fo)).sqrt(), w, &mut generator)?,
            Init::Lecun => normal((1.0 / fi).sqrt(), w, &mut generator),
            Init::Uniform => uniform(1.0, w, &mut generator)?,
            Init::Small => normal(0.01, w, &mut generator),
            Init::Zeros => w.iter_mut().for_each(|v| *v = T::zero()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn he_init_has_the_stated_variance_and_is_seeded() -> Result<()> {
        let (fan_in, fan_out) = (400, 300);
        let mut w = vec![0.0f64; fan_in * fan_out];
        Init::He.fill(&mut w, fan_in, fan_out, 3, 0)?;
        let var = w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64;
        assert!((var - 2.0 / fan_in as f64).abs() < 0.05 * 2.0 / fan_in as f64, "variance {var}");
        let mut again = vec![0.0f64; fan_in * fan_out];
        Init::He.fill(&mut again, fan_in, fan_out, 3, 0)?;
        assert_eq!(w, again);
        let mut other_layer = vec![0.0f64; fan_in * fan_out];
        Init::He.fill(&mut other_layer, fan_in, fan_out, 3, 1)?;
        assert_ne!(w, other_layer);
        Ok(())
    }

    #[test]
    fn uniform_inits_stay_in_range() -> Result<()> {
        let mut w = vec![0.0f32; 1000];
        Init::XavierUniform.fill(&mut w, 10, 20, 0, 0)?;
        let limit = (6.0f32 / 30.0).sqrt();
        assert!(w.iter().all(|v| v.abs() <= limit));
        Init::Uniform.fill(&mut w, 10, 20, 0, 0)?;
        assert!(w.iter().all(|v| v.abs() <= 1.0));
        Ok(())
    }
}
