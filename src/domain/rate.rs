//! Per-sender pacing: a person may send `burst` commands at once and `per_minute` commands a
//! minute on average. Commands over that pace are not dropped: each one is given the time
//! at which it may run (counted by arrival, GCRA), so a flood delays only its sender and
//! every command is answered, in order. Only a backlog over `backlog` commands is refused.
//! Pure: the caller passes "now".

use jiff::{SignedDuration, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatePolicy {
    pub per_minute: u32,
    pub burst: u32,
    /// How many of a person's commands may wait their turn; a command beyond that is
    /// refused (and the refusal names it).
    pub backlog: u32,
}

impl RatePolicy {
    /// The steady spacing between two commands.
    pub fn interval(&self) -> SignedDuration {
        SignedDuration::from_nanos(60_000_000_000 / i64::from(self.per_minute.max(1)))
    }

    /// How far ahead of the steady pace a burst may run.
    fn tolerance(&self) -> SignedDuration {
        self.interval() * (self.burst.max(1) as i32 - 1)
    }
}

/// One sender's pace: the theoretical arrival time of their next command.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    next: Timestamp,
    /// Whether the person was told that Botper is catching up since they last ran at once.
    told: bool,
}

/// When a command that arrived now may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Within the pace: run it now.
    Now,
    /// Over the pace: run it at `at`, after the `waiting` delayed commands queued before it.
    /// `tell` is true for the first delayed command in a row (tell the person once that
    /// Botper is catching up, not once per message).
    Later {
        at: Timestamp,
        waiting: u32,
        tell: bool,
    },
    /// The backlog is full: refuse this command (the refusal names it); `waiting` delayed
    /// commands are queued before it. The pace is not charged, so the queue drains as
    /// before.
    Refused { waiting: u32 },
}

impl Pace {
    pub fn new(now: Timestamp) -> Self {
        Self {
            next: now,
            told: false,
        }
    }

    /// Charges one command that arrived at `now`.
    pub fn admit(&mut self, policy: RatePolicy, now: Timestamp) -> Admission {
        let interval = policy.interval();
        let next = self.next.max(now);
        let allowed_at = next - policy.tolerance();
        if allowed_at <= now {
            self.next = next + interval;
            self.told = false;
            return Admission::Now;
        }
        let ahead = allowed_at.duration_since(now);
        let step = interval.as_nanos().max(1);
        // Its place in the queue of delayed commands, counting from 1.
        let place = u32::try_from((ahead.as_nanos() + step - 1) / step).unwrap_or(u32::MAX);
        let waiting = place - 1;
        if waiting >= policy.backlog {
            return Admission::Refused { waiting };
        }
        self.next = next + interval;
        let tell = !self.told;
        self.told = true;
        Admission::Later {
            at: allowed_at,
            waiting,
            tell,
        }
    }

    /// Whether the sender is back to a full burst (the pace can be forgotten).
    pub fn is_idle(&self, now: Timestamp) -> bool {
        self.next <= now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: RatePolicy = RatePolicy {
        per_minute: 30,
        burst: 3,
        backlog: 5,
    };

    fn t(ms: i64) -> Timestamp {
        Timestamp::UNIX_EPOCH + SignedDuration::from_millis(ms)
    }

    #[test]
    fn a_burst_runs_now_then_commands_wait_their_turn_in_order() {
        let mut p = Pace::new(t(0));
        for _ in 0..3 {
            assert_eq!(p.admit(P, t(0)), Admission::Now);
        }
        assert_eq!(
            p.admit(P, t(0)),
            Admission::Later {
                at: t(2_000),
                waiting: 0,
                tell: true
            }
        );
        assert_eq!(
            p.admit(P, t(0)),
            Admission::Later {
                at: t(4_000),
                waiting: 1,
                tell: false
            },
            "told once, and the next one runs one interval later"
        );
    }

    #[test]
    fn the_pace_counts_arrivals_not_processing() {
        // Commands typed 2 s apart (the steady rate) never wait, however late they are
        // processed: a backlog after an outage drains at once.
        let mut p = Pace::new(t(0));
        for k in 0..50 {
            assert_eq!(p.admit(P, t(k * 2_000)), Admission::Now, "command {k}");
        }
    }

    #[test]
    fn a_full_backlog_refuses_without_charging() {
        let mut p = Pace::new(t(0));
        let mut admitted = 0;
        let mut refused = 0;
        for _ in 0..20 {
            match p.admit(P, t(0)) {
                Admission::Refused { waiting } => {
                    assert_eq!(waiting, P.backlog);
                    refused += 1;
                }
                _ => admitted += 1,
            }
        }
        assert_eq!(admitted, 3 + 5, "the burst plus the backlog");
        assert_eq!(refused, 12);
        // The queue drains at the steady pace: 2 s later there is room for one more.
        assert!(matches!(p.admit(P, t(2_000)), Admission::Later { .. }));
        assert!(matches!(p.admit(P, t(2_000)), Admission::Refused { .. }));
    }

    #[test]
    fn once_caught_up_the_person_is_told_again_next_time() {
        let mut p = Pace::new(t(0));
        for _ in 0..4 {
            p.admit(P, t(0));
        }
        assert!(!p.is_idle(t(1_000)));
        assert!(p.is_idle(t(8_000)));
        assert_eq!(p.admit(P, t(60_000)), Admission::Now);
        for _ in 0..2 {
            p.admit(P, t(60_000));
        }
        assert!(matches!(
            p.admit(P, t(60_000)),
            Admission::Later { tell: true, .. }
        ));
    }

    #[test]
    fn the_defaults_answer_sixty_commands_within_two_minutes() {
        let policy = RatePolicy {
            per_minute: 30,
            burst: 10,
            backlog: 300,
        };
        let mut p = Pace::new(t(0));
        let mut last = t(0);
        for k in 0..60 {
            match p.admit(policy, t(k * 16)) {
                Admission::Now => {}
                Admission::Later { at, .. } => last = at,
                Admission::Refused { .. } => panic!("refused under the default backlog"),
            }
        }
        assert!(last <= t(100_000), "{last}");
    }
}
