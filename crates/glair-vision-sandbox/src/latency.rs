//! How long the endpoint takes to answer: a log-normal distribution of a given
//! mean and standard deviation (skewed to the right, never negative, as the
//! latency of a remote API is), drawn from a generator seeded by the sandbox's
//! seed so that a run can be repeated.

use std::sync::Mutex;
use std::time::Duration;

pub(crate) struct Latency {
    mean: Duration,
    /// Parameters of the underlying normal distribution; `None` for a constant.
    shape: Option<(f64, f64)>,
    rng: Mutex<fastrand::Rng>,
}

impl Latency {
    pub(crate) fn new(mean: Duration, spread: Duration, seed: u64) -> Latency {
        let (m, s) = (mean.as_secs_f64(), spread.as_secs_f64());
        let shape = (m > 0.0 && s > 0.0).then(|| {
            // The log-normal whose mean is m and standard deviation s.
            let sigma2 = (1.0 + (s * s) / (m * m)).ln();
            (m.ln() - sigma2 / 2.0, sigma2.sqrt())
        });
        // Its own stream, so that latency draws do not shift `failure_rate`'s.
        let rng = Mutex::new(fastrand::Rng::with_seed(seed ^ 0x6c61_7465_6e63_7921));
        Latency { mean, shape, rng }
    }

    pub(crate) fn is_zero(&self) -> bool {
        self.mean.is_zero()
    }

    /// The wait for one answer.
    pub(crate) fn sample(&self) -> Duration {
        let Some((mu, sigma)) = self.shape else { return self.mean };
        let (u1, u2) = {
            let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
            (rng.f64(), rng.f64())
        };
        // Box-Muller: a standard normal draw from two uniform ones.
        let z = (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        Duration::from_secs_f64((mu + sigma * z).exp().min(3600.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_spread_is_a_constant() {
        let l = Latency::new(Duration::from_millis(20), Duration::ZERO, 1);
        assert_eq!(l.sample(), Duration::from_millis(20));
        assert!(Latency::new(Duration::ZERO, Duration::from_millis(5), 1).is_zero());
    }

    #[test]
    fn draws_have_the_mean_and_spread_asked_for_and_repeat_with_the_seed() {
        let draw = |seed| {
            let l = Latency::new(Duration::from_millis(50), Duration::from_millis(20), seed);
            (0..20_000).map(|_| l.sample().as_secs_f64() * 1000.0).collect::<Vec<_>>()
        };
        let a = draw(7);
        assert_eq!(a, draw(7));
        assert_ne!(a, draw(8));
        let n = a.len() as f64;
        let mean = a.iter().sum::<f64>() / n;
        let sd = (a.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
        assert!((mean - 50.0).abs() < 1.5, "mean {mean}");
        assert!((sd - 20.0).abs() < 2.0, "sd {sd}");
        assert!(a.iter().all(|&x| x > 0.0));
    }
}
