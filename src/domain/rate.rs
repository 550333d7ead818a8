//! A per-sender token bucket: a person may send `burst` commands at once and `per_minute`
//! commands a minute on average. Pure: the caller passes "now".

use jiff::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatePolicy {
    pub per_minute: u32,
    pub burst: u32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    tokens: f64,
    updated: Timestamp,
    /// Whether the person was told about the limit since they last had a token.
    told: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allow,
    /// Over the limit. `tell` is true for the first refusal in a row (tell the person once,
    /// not once per message); `wait_secs` is when the next command will be accepted.
    Limited {
        tell: bool,
        wait_secs: u64,
    },
}

impl Bucket {
    pub fn full(policy: RatePolicy, now: Timestamp) -> Self {
        Self {
            tokens: f64::from(policy.burst.max(1)),
            updated: now,
            told: false,
        }
    }

    pub fn take(&mut self, policy: RatePolicy, now: Timestamp) -> RateDecision {
        let rate = f64::from(policy.per_minute.max(1)) / 60.0;
        let elapsed = now.duration_since(self.updated).as_secs_f64().max(0.0);
        self.tokens = (self.tokens + elapsed * rate).min(f64::from(policy.burst.max(1)));
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.told = false;
            RateDecision::Allow
        } else {
            let tell = !self.told;
            self.told = true;
            RateDecision::Limited {
                tell,
                wait_secs: ((1.0 - self.tokens) / rate).ceil() as u64,
            }
        }
    }

    /// Whether the bucket is full again (it can be forgotten).
    pub fn is_idle(&self, policy: RatePolicy, now: Timestamp) -> bool {
        let rate = f64::from(policy.per_minute.max(1)) / 60.0;
        let elapsed = now.duration_since(self.updated).as_secs_f64().max(0.0);
        self.tokens + elapsed * rate >= f64::from(policy.burst.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::SignedDuration;

    const P: RatePolicy = RatePolicy {
        per_minute: 30,
        burst: 3,
    };

    fn t(secs: i64) -> Timestamp {
        Timestamp::UNIX_EPOCH + SignedDuration::from_secs(secs)
    }

    #[test]
    fn a_burst_passes_then_the_person_is_told_once() {
        let mut b = Bucket::full(P, t(0));
        for _ in 0..3 {
            assert_eq!(b.take(P, t(0)), RateDecision::Allow);
        }
        assert_eq!(
            b.take(P, t(0)),
            RateDecision::Limited {
                tell: true,
                wait_secs: 2
            }
        );
        assert!(matches!(
            b.take(P, t(0)),
            RateDecision::Limited { tell: false, .. }
        ));
    }

    #[test]
    fn tokens_come_back_at_the_average_rate() {
        let mut b = Bucket::full(P, t(0));
        for _ in 0..3 {
            b.take(P, t(0));
        }
        assert!(matches!(b.take(P, t(1)), RateDecision::Limited { .. }));
        assert_eq!(
            b.take(P, t(3)),
            RateDecision::Allow,
            "30/min = one every 2 s"
        );
        assert!(!b.is_idle(P, t(3)));
        assert!(b.is_idle(P, t(60)));
    }
}
